"""The demo flow at small scale: emulators, embedded PostgreSQL, Ray, gRPC — the whole engine.

Runs ``callengine demo`` as a user would (its own process, its own Ray), on a
handful of scenarios that cover an answered call, a retry, a busy line and a
fraud persona, after two earlier weeks on the engine's shifted clock, and checks
its verdict and its outputs: reports over three weeks, the ledger, and a backend
that received a signed event for every settled call — then what its database holds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from engine.domain import SessionStatus
from engine.events.types import is_settled
from storage import embedded

pytestmark = pytest.mark.slow


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "RAY_ADDRESS")}
    env["CALLENGINE_DATA_DIR"] = str(tmp_path / "data")
    env.setdefault("RAY_AUTH_MODE", "disabled")
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "engine.cli",
            "demo",
            "--calls",
            "6",
            "--weeks",
            "3",
            "--speed",
            "6",
            "--out",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    assert "every call went as its scenario planned" in proc.stdout
    assert "dispatched 6 calls through gRPC" in proc.stdout
    assert "(2 weeks ago)" in proc.stdout and "(1 week ago)" in proc.stdout
    assert "Reward ledger, all weeks" in proc.stdout and "prognos:" in proc.stdout
    assert " 0 refused)" in proc.stdout and "call.settled" in proc.stdout
    reports = sorted(out.glob("report-*.html"))
    weeks = {r.name.removesuffix(".html")[-10:] for r in reports}  # report-<store>-<Monday>.html
    assert len(weeks) == 3, output[-3000:]
    page = reports[0].read_text(encoding="utf-8")
    assert "<svg" in page or "<img" in page
    # No phone number of the scenario set leaks into what the demo printed.
    assert "+4670174" not in output
    # The demo's embedded PostgreSQL does not outlive it.
    pgdata = tmp_path / "data" / "demo" / "pgdata"
    pid_file = pgdata / "postmaster.pid"
    if pid_file.exists():
        import psutil

        assert not psutil.pid_exists(int(pid_file.read_text().splitlines()[0]))
    _assert_database_after_the_demo(pgdata)


def _assert_database_after_the_demo(pgdata: Path) -> None:
    """What the engine left in PostgreSQL: every session settled, every completed call assessed
    and in the ledger once, every transcript's lines once and in order, no work left in the job
    queue, one ``call.settled`` event per session, three weeks of rows, no number in clear."""
    with embedded.held(pgdata) as uri, psycopg.connect(uri.replace("+psycopg", "")) as db:

        def rows(sql: str) -> list[tuple[object, ...]]:
            return db.execute(sql).fetchall()  # type: ignore[arg-type]

        sessions = rows("SELECT id, session_status, failure_reason, phone_number FROM feedback_call_sessions")
        assert len(sessions) >= 6 + 2 * 3, "this week's 6 calls and the earlier weeks' (3 stores)"
        for sid, status, reason, phone in sessions:
            assert is_settled(SessionStatus(status), reason), (sid, status, reason)
            assert not str(phone).startswith("+"), "the number is stored encrypted"
        completed = {sid for sid, status, _, _ in sessions if status == "completed"}
        assert completed
        assessed = rows("SELECT call_session_id, count(*) FROM quality_assessments GROUP BY 1")
        assert {sid for sid, _ in assessed} >= completed and all(n == 1 for _, n in assessed)
        ledger = rows("SELECT call_session_id, count(*) FROM reward_ledger GROUP BY 1")
        assert {sid for sid, _ in ledger} == {sid for sid, _ in assessed} and all(n == 1 for _, n in ledger)
        for sid, orders in rows(
            "SELECT call_session_id, array_agg(message_order ORDER BY message_order) "
            "FROM conversation_transcripts GROUP BY 1"
        ):
            assert orders == list(range(1, len(orders) + 1)), (sid, orders)  # type: ignore[arg-type]
        talked = rows("SELECT DISTINCT call_session_id FROM conversation_transcripts")
        assert {row[0] for row in talked} >= completed
        assert rows("SELECT kind, state, count(*) FROM jobs WHERE state <> 'done' GROUP BY 1, 2") == []
        settled_events = rows("SELECT subject, count(*) FROM events WHERE type = 'call.settled' GROUP BY 1")
        assert {s for s, _ in settled_events} == {str(sid) for sid, *_ in sessions}
        assert all(n == 1 for _, n in settled_events)
        weeks = rows(
            "SELECT DISTINCT date_trunc('week', created_at AT TIME ZONE 'Europe/Stockholm') "
            "FROM feedback_call_sessions"
        )
        assert len(weeks) == 3, weeks
