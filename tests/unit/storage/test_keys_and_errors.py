from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from engine.config import DatabaseSettings, Secret
from engine.errors import (
    ConfigError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    StorageError,
    UnavailableError,
    ValidationError,
)
from storage import keys
from storage.crypto import BlindIndex
from storage.errors import translate
from storage.migrate import driver_url


def test_dev_keys_generated_once_with_mode_0600(tmp_path: Path) -> None:
    settings = DatabaseSettings(data_dir=tmp_path)
    ring1, bidx1 = keys.load(settings, embedded=True)
    path = tmp_path / keys.DEV_KEYS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ring2, bidx2 = keys.load(settings, embedded=True)
    assert ring1.key_ids == ring2.key_ids and bidx1.of("+46701234567") == bidx2.of("+46701234567")


def test_external_database_requires_configured_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="required with DATABASE_URL"):
        keys.load(DatabaseSettings(url="postgresql://x@h/db", data_dir=tmp_path), embedded=False)
    assert not (tmp_path / keys.DEV_KEYS_FILE).exists()
    configured = DatabaseSettings(
        url="postgresql://x@h/db",
        data_dir=tmp_path,
        encryption_keys=Secret("k1:" + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="),
        blind_index_key=Secret("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="),
    )
    ring, _ = keys.load(configured, embedded=False)
    assert ring.active_key_id == "k1"


def test_driver_url() -> None:
    assert driver_url("postgresql://u@h:5/db") == "postgresql+psycopg://u@h:5/db"
    assert driver_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert driver_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    with pytest.raises(StorageError):
        driver_url("postgresql+asyncpg://u@h/db")


class _Diag:
    def __init__(self, constraint: str = "", table: str = "", column: str = "") -> None:
        self.constraint_name = constraint
        self.table_name = table
        self.column_name = column


class _Orig(Exception):
    def __init__(self, sqlstate: str, diag: _Diag) -> None:
        super().__init__("DETAIL: Key (phone_bidx)=(secret) …")
        self.sqlstate = sqlstate
        self.diag = diag


@pytest.mark.parametrize(
    "sqlstate,diag,kind,cls",
    [
        (
            "23514",
            _Diag("ck_quality_assessments_depth_score", "quality_assessments"),
            IntegrityError,
            ValidationError,
        ),
        ("23503", _Diag("fk_x"), IntegrityError, NotFoundError),
        ("23505", _Diag("uq_x"), IntegrityError, ConflictError),
        ("23502", _Diag(column="store_id"), IntegrityError, ValidationError),
        ("42501", _Diag(), ProgrammingError, PermissionDeniedError),
        ("08006", _Diag(), OperationalError, UnavailableError),
        ("XX000", _Diag(), ProgrammingError, StorageError),
    ],
)
def test_translate(sqlstate: str, diag: _Diag, kind: type, cls: type) -> None:
    err = translate(kind("stmt", {}, _Orig(sqlstate, diag)))
    assert isinstance(err, cls)
    assert "secret" not in str(err)
    if sqlstate == "23514":
        assert isinstance(err, ValidationError) and err.field == "depth_score"


def test_dev_keys_fill_in_only_what_is_not_configured(tmp_path: Path) -> None:
    k = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
    only_enc = DatabaseSettings(data_dir=tmp_path, encryption_keys=Secret("mine:" + k))
    ring, bidx = keys.load(only_enc, embedded=True)
    assert ring.key_ids == {"mine"}
    stored = json.loads((tmp_path / keys.DEV_KEYS_FILE).read_text(encoding="utf-8"))
    assert stored["encryption_keys"].startswith("dev1:")
    assert bidx.of("+46701234567") == BlindIndex.parse(stored["blind_index_key"]).of("+46701234567")
    only_bidx = DatabaseSettings(data_dir=tmp_path, blind_index_key=Secret(k))
    ring2, bidx2 = keys.load(only_bidx, embedded=True)
    assert ring2.key_ids == {"dev1"} and bidx2.of("+46701234567") == BlindIndex.parse(k).of("+46701234567")


def test_dev_keys_file_in_a_new_directory_and_unreadable_file(tmp_path: Path) -> None:
    nested = tmp_path / "a" / "b"
    keys.load(DatabaseSettings(data_dir=nested), embedded=True)
    assert (nested / keys.DEV_KEYS_FILE).exists()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / keys.DEV_KEYS_FILE).write_text('{"encryption_keys": "x"}', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        keys.load(DatabaseSettings(data_dir=broken), embedded=True)
    assert str(info.value) == f"{broken / keys.DEV_KEYS_FILE}: unreadable development key file"
    (broken / keys.DEV_KEYS_FILE).write_text("not json", encoding="utf-8")
    with pytest.raises(ConfigError):
        keys.load(DatabaseSettings(data_dir=broken), embedded=True)


def test_one_configured_key_is_not_enough_for_an_external_database(tmp_path: Path) -> None:
    k = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
    for settings in (
        DatabaseSettings(url="postgresql://x@h/db", data_dir=tmp_path, encryption_keys=Secret("a:" + k)),
        DatabaseSettings(url="postgresql://x@h/db", data_dir=tmp_path, blind_index_key=Secret(k)),
    ):
        with pytest.raises(ConfigError) as info:
            keys.load(settings, embedded=False)
        assert str(info.value) == (
            "CALLENGINE_ENCRYPTION_KEYS and CALLENGINE_BLIND_INDEX_KEY are required with DATABASE_URL"
        )
    active = DatabaseSettings(
        url="postgresql://x@h/db",
        data_dir=tmp_path,
        encryption_keys=Secret(f"a:{k},b:{k}"),
        active_key_id="a",
        blind_index_key=Secret(k),
    )
    assert keys.load(active, embedded=False)[0].active_key_id == "a"


def test_generating_dev_keys_is_logged_with_the_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="storage.keys"):
        keys.load(DatabaseSettings(data_dir=tmp_path), embedded=True)
    path = tmp_path / keys.DEV_KEYS_FILE
    assert [r.getMessage() for r in caplog.records if r.name == "storage.keys"] == [
        f"generated development encryption keys in {path} (embedded database only)"
    ]
