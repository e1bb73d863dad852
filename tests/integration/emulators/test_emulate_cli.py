"""``callengine emulate`` prints the settings, serves them, and stops cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
from twilio.rest import Client

KEYS = ["TWILIO_API_BASE_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "OPENAI_BASE_URL", "OPENAI_API_KEY"]


def _start(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "emulate", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _settings(proc: subprocess.Popen[str]) -> dict[str, str]:
    assert proc.stdout is not None
    settings: dict[str, str] = {}
    while len(settings) < len(KEYS):
        line = proc.stdout.readline()
        assert line, f"emulate exited early: {proc.stderr.read() if proc.stderr else ''}"
        key, _, value = line.strip().partition("=")
        settings[key] = value
    return settings


@pytest.fixture
def emulate() -> Iterator[subprocess.Popen[str]]:
    proc = _start("--speed", "20")
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait(5)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_emulate_prints_settings_that_work_and_stops(
    emulate: subprocess.Popen[str], sig: signal.Signals
) -> None:
    settings = _settings(emulate)
    assert list(settings) == KEYS
    assert settings["TWILIO_API_BASE_URL"].startswith("http://127.0.0.1:")
    assert settings["OPENAI_BASE_URL"].startswith("http://127.0.0.1:") and settings[
        "OPENAI_BASE_URL"
    ].endswith("/v1")
    client = Client(settings["TWILIO_ACCOUNT_SID"], settings["TWILIO_AUTH_TOKEN"])
    client.api.base_url = settings["TWILIO_API_BASE_URL"]
    call = client.calls.create(
        to="+46701740621", from_="+46850000000", twiml="<Response><Hangup/></Response>"
    )
    assert client.calls(call.sid).fetch().sid == call.sid
    emulate.send_signal(sig)
    assert emulate.wait(15) == 0
