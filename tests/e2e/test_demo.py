"""The demo flow at small scale: emulators, embedded PostgreSQL, Ray, gRPC — the whole engine.

Runs ``callengine demo`` as a user would (its own process, its own Ray), on a
handful of scenarios that cover an answered call, a retry, a busy line and a
fraud persona, after two earlier weeks on the engine's shifted clock, and checks
its verdict and its outputs: reports over three weeks, the ledger, and a backend
that received a signed event for every settled call.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    pid_file = tmp_path / "data" / "demo" / "pgdata" / "postmaster.pid"
    if pid_file.exists():
        import psutil

        assert not psutil.pid_exists(int(pid_file.read_text().splitlines()[0]))
