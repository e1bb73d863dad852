from __future__ import annotations

import pytest

from engine.cli import main


def test_help_always_works(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "callengine" in capsys.readouterr().out
