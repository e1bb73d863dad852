"""`callengine db upgrade` (the schema Job of deploy/db-upgrade.yaml) gives the runtime's login its
password from the secrets directory, as the README and the Job promise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from storage.rls import APP_ROLE
from tests.fixtures.postgres import PgServer

pytestmark = pytest.mark.timeout(120)


def _password_hash(url: str) -> str | None:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (APP_ROLE,)).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def test_db_upgrade_sets_the_app_password_from_a_secret_file(
    pg_server: PgServer, isolated_pg_url: str, tmp_path: Path
) -> None:
    (tmp_path / "CALLENGINE_DB_APP_PASSWORD").write_text("app-login-password-0123\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALLENGINE_", "DATABASE_"))}
    env |= {"DATABASE_URL": isolated_pg_url, "CALLENGINE_SECRETS_DIR": str(tmp_path)}
    before = _password_hash(pg_server.owner_url)  # roles are server-wide: put it back afterwards
    try:
        done = subprocess.run(
            [sys.executable, "-m", "engine.cli", "db", "upgrade"],
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "callengine_app: password set" in done.stdout
        assert "app-login-password" not in done.stdout + done.stderr
        after = _password_hash(pg_server.owner_url)
        assert after and after != before and after.startswith("SCRAM-SHA-256$")
    finally:
        with psycopg.connect(pg_server.owner_url, autocommit=True) as conn:
            restore = "PASSWORD NULL" if before is None else f"PASSWORD '{before}'"
            conn.execute(f'ALTER ROLE "{APP_ROLE}" {restore}')  # type: ignore[arg-type]
