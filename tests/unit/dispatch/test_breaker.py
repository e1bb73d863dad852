"""Provider circuit breakers: open after failures, one probe when half-open, back off on a failed probe."""

from __future__ import annotations

import pytest

from engine.dispatch.breaker import (
    Breakers,
    BreakerState,
    CircuitBreaker,
    ProviderUnavailableError,
    probe_gate,
)


def test_opens_after_consecutive_failures_and_probes_once() -> None:
    b = CircuitBreaker("realtime", failures=3, open_seconds=10)
    for t in range(2):
        b.failure(t)
    assert b.allow(2) and b.state is BreakerState.CLOSED
    b.failure(2)
    assert b.state is BreakerState.OPEN and not b.allow(5)
    assert b.reason() == "realtime_unavailable"
    assert b.allow(12) and b.state is BreakerState.HALF_OPEN
    assert not b.allow(12.5), "one probe at a time"
    b.failure(13)
    assert b.state is BreakerState.OPEN and not b.allow(30)  # reopened for twice as long
    assert b.allow(34)
    b.success()
    assert b.state is BreakerState.CLOSED and b.allow(34) and b.reason() is None


def test_a_probe_that_never_reports_is_replaced() -> None:
    b = CircuitBreaker("twilio", failures=1, open_seconds=1, probe_timeout=5)
    b.failure(0)
    assert b.allow(2) and not b.allow(3)
    assert b.allow(8)


def test_breakers_take_a_probe_only_when_all_let_the_call_through() -> None:
    bs = Breakers()
    bs.twilio.failures = 1
    bs.realtime.failures = 1
    bs.realtime.open_seconds = 1
    bs.twilio.open_seconds = 100
    bs.realtime.failure(0)
    bs.twilio.failure(0)
    assert not bs.allow(5)  # realtime half-open, twilio still open: no probe consumed
    bs.twilio.success()
    assert bs.allow(5), "the realtime probe was still available"
    assert not bs.allow(5)
    assert bs.held_reason() == "realtime_unavailable"


async def test_probe_gate_for_paths_without_a_pre_dial_session() -> None:
    b = CircuitBreaker("realtime", failures=1, open_seconds=10)

    async def down() -> None:
        raise OSError("refused")

    async def up() -> None:
        return None

    with pytest.raises(ProviderUnavailableError) as err:
        await probe_gate(b, down, 0)
    assert err.value.provider == "realtime" and b.state is BreakerState.OPEN
    with pytest.raises(ProviderUnavailableError):
        await probe_gate(b, up, 5)  # open: not even probed
    await probe_gate(b, up, 11)
    assert b.state is BreakerState.CLOSED


def test_provider_error_survives_pickling() -> None:
    import pickle

    e = pickle.loads(pickle.dumps(ProviderUnavailableError("twilio", "429 x4")))
    assert e.provider == "twilio" and e.retryable and "429" in str(e)
