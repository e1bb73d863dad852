"""``callengine emulate`` rejects bad arguments and bad scenario files with a message naming them."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--speed", "0"], "--speed"),
        (["--speed", "-3"], "--speed"),
        (["--twilio-port", "70000"], "--twilio-port"),
        (["--openai-port", "-1"], "--openai-port"),
        (["--calls-per-second", "0"], "--calls-per-second"),
    ],
)
def test_bad_arguments(args: list[str], fragment: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulate", *args]) == 2
    assert fragment in capsys.readouterr().err


def test_bad_scenario_file_names_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[scenarios]]\nname = "x"\nphone = "123"\n', encoding="utf-8")
    assert main(["emulate", "--scenarios", str(bad)]) == 2
    assert "bad.toml: scenarios[0].phone" in capsys.readouterr().err
    assert main(["emulate", "--scenarios", str(tmp_path / "missing.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err
