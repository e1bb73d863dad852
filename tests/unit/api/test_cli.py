"""`callengine token` mints tokens the server accepts (same dev key from the data dir)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from engine.api.auth import authority_from_settings
from engine.cli import main
from engine.config import Settings
from engine.domain import Role

STORE = "3f2b8a9e-1c4d-4e5f-8a7b-6c5d4e3f2a1b"


def test_token_round_trip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CALLENGINE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CALLENGINE_JWT_SECRET", raising=False)
    assert (
        main(["token", "--role", "store_owner", "--store", STORE, "--subject", "owner-1", "--ttl", "60"]) == 0
    )
    token = capsys.readouterr().out.strip()
    caller = authority_from_settings(Settings.from_env()).verify(token)
    assert (
        caller.role is Role.STORE_OWNER
        and caller.store_ids == {uuid.UUID(STORE)}
        and caller.subject == "owner-1"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["token", "--role", "store_owner"],
        ["token", "--role", "admin", "--store", "not-a-uuid"],
        ["token", "--role", "service", "--ttl", "0"],
    ],
)
def test_token_rejects_bad_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    monkeypatch.setenv("CALLENGINE_DATA_DIR", str(tmp_path))
    assert main(argv) == 2
