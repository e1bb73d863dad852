"""The SessionHost actor reports what the Dispatcher needs of an outcome (no Ray started)."""

from __future__ import annotations

from typing import Any

import pytest

from actors import process
from actors.session_host import SessionHostActor
from engine.config import Settings
from engine.domain import FailureReason, SessionStatus
from engine.session.call import SessionOutcome


class _Host:
    capacity, free_slots, draining = 2, 2, False

    def session_ids(self) -> list[str]:
        return []

    throttled = 2.5

    def take_twilio_throttle(self) -> float:
        taken, self.throttled = self.throttled, 0.0
        return taken


@pytest.fixture
def actor(monkeypatch: pytest.MonkeyPatch) -> SessionHostActor:
    monkeypatch.setattr(process, "enter", lambda settings: settings)
    a = SessionHostActor(Settings(), "h1")
    a._host = _Host()
    a._ready.set()
    return a


async def test_a_call_back_time_reaches_the_heartbeat(actor: Any) -> None:
    actor._record(
        SessionOutcome(
            "s1",
            "st",
            SessionStatus.FAILED,
            FailureReason.CALLBACK_REQUESTED,
            True,
            1,
            callback_after_seconds=7200,
        )
    )
    (outcome,) = (await actor.status()).outcomes
    assert outcome.failure_reason is FailureReason.CALLBACK_REQUESTED and outcome.retry_due
    assert outcome.callback_after_seconds == 7200


async def test_a_twilio_429_reaches_the_next_heartbeat_once(actor: Any) -> None:
    assert (await actor.status()).twilio_throttled_s == 2.5
    assert (await actor.status()).twilio_throttled_s == 0.0


async def test_a_number_unreadable_through_an_outage_is_not_dialled_and_may_come_again(
    actor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from actors import session_host
    from engine.dispatch.ports import CallStart, NotDialledError
    from engine.errors import UnavailableError

    monkeypatch.setattr(session_host, "LOOKUP_HOLD_SECONDS", 0.2)
    reads: list[str] = []

    async def lookup(session_id: str) -> tuple[str, str]:
        reads.append(session_id)
        raise UnavailableError("database unreachable (test)")

    actor._lookup = lookup
    call = CallStart("s9", "v9", "st", 0)
    with pytest.raises(NotDialledError):
        await actor.start_call(call)
    assert len(reads) > 1, "held and retried before giving up"
    with pytest.raises(NotDialledError):
        await actor.start_call(call)  # not refused as "already dialled here": it never was
