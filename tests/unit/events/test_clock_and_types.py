"""The shifted wall clock (offset file), its safety rule, and the event envelope and cursor."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest

from engine.clock import SystemClock, clock_from_settings, parse_offset, write_offset
from engine.config import Settings
from engine.domain import FailureReason, SessionStatus
from engine.errors import ConfigError, ValidationError
from engine.events.types import Cursor, Event, is_settled

WEEK = dt.timedelta(days=7)


def test_offset_file_shifts_wall_time_only_and_follows_replacements(tmp_path: Path) -> None:
    path = tmp_path / "offset"
    clock = SystemClock(offset_file=path)
    assert abs(clock.now() - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)  # no file: no shift
    write_offset(path, -3 * WEEK)
    assert abs(clock.now() - (dt.datetime.now(dt.UTC) - 3 * WEEK)) < dt.timedelta(seconds=5)
    mono = clock.monotonic()
    write_offset(path, -WEEK)  # replaced: the very next now() follows
    assert abs(clock.now() - (dt.datetime.now(dt.UTC) - WEEK)) < dt.timedelta(seconds=5)
    assert 0 <= clock.monotonic() - mono < 5  # monotonic time is never shifted
    path.write_text("not a number", encoding="utf-8")  # a broken file keeps the last good offset
    assert abs(clock.now() - (dt.datetime.now(dt.UTC) - WEEK)) < dt.timedelta(seconds=5)
    path.unlink()
    assert abs(clock.now() - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)


def test_offsets_are_bounded() -> None:
    assert parse_offset(" -1814400\n") == -3 * WEEK
    for bad in ("nan", "inf", "1e12", ""):
        with pytest.raises(ValueError):
            parse_offset(bad)


def test_shifted_clock_is_for_purely_local_runs_only(tmp_path: Path) -> None:
    env = {"CALLENGINE_CLOCK_OFFSET_FILE": str(tmp_path / "offset")}
    settings = Settings.from_env(env)
    write_offset(tmp_path / "offset", -WEEK)
    assert clock_from_settings(settings).now() < dt.datetime.now(dt.UTC) - WEEK + dt.timedelta(seconds=5)
    assert clock_from_settings(Settings.from_env({})).offset == dt.timedelta(0)
    for production in (
        {"DATABASE_URL": "postgresql://u@db/x"},
        {"DATABASE_APP_URL": "postgresql://u@db/x"},
        {"RAY_ADDRESS": "ray://head:10001"},
    ):
        with pytest.raises(ConfigError, match="demo and tests only"):
            Settings.from_env({**env, **production})


def test_settled_means_nothing_more_will_happen() -> None:
    assert is_settled(SessionStatus.COMPLETED, None)
    assert is_settled(SessionStatus.ABANDONED, "opted_out")
    assert is_settled(SessionStatus.FAILED, FailureReason.MAX_RETRIES.value)
    assert is_settled(SessionStatus.FAILED, FailureReason.CANCELED.value)
    assert is_settled(SessionStatus.FAILED, "a_reason_from_a_newer_version")
    assert not is_settled(SessionStatus.FAILED, FailureReason.NO_ANSWER.value)  # a retry decision follows
    assert not is_settled(SessionStatus.FAILED, FailureReason.HOST_LOST.value)
    assert not is_settled(SessionStatus.IN_PROGRESS, None)


def test_cursor_round_trips_and_refuses_anything_else() -> None:
    assert Cursor.decode(Cursor(123, 45).encode()) == Cursor(123, 45)
    assert Cursor.decode("v1.9.-1") == Cursor(9, -1)
    for bad in ("", "v1.1", "v2.1.2", "v1.a.2", "v1.1.2.3", "v1. 1.2", "v1.1.-2"):
        with pytest.raises(ValidationError):
            Cursor.decode(bad)


def test_envelope_is_stable_bytes_with_utc_time() -> None:
    event = Event(
        id="reward.changed:s:2",
        seq=7,
        tx_id=100,
        type="reward.changed",
        store_id=uuid.UUID(int=1),
        subject="s",
        version=2,
        occurred_at=dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC),
        payload={"amount": "12.50", "state": "approved"},
    )
    assert event.body() == event.body()
    env = event.envelope()
    assert env["timestamp"] == "2026-11-02T10:00:00Z" and env["data"]["amount"] == "12.50"
    assert env["id"] == "reward.changed:s:2" and env["version"] == 2
