"""TwilioRestCalls against the Twilio emulator's faults: 429 (Retry-After), 500, late-answered creates."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from engine.config import Settings
from engine.dispatch.breaker import ProviderUnavailableError
from engine.emulators.twilio import TwilioEmulator
from engine.telephony.rest import TwilioRestCalls

PHONE = "+46701749555"  # no scenario: the emulator's default customer
TWIML = "<Response><Hangup/></Response>"


async def _client(emulator: TwilioEmulator, **kw: object) -> TwilioRestCalls:
    settings = Settings.from_env(emulator.env())
    return TwilioRestCalls(settings.twilio, backoff_s=0.01, **kw)  # type: ignore[arg-type]


async def _create(calls: TwilioRestCalls, identify: object = None) -> str:
    return await calls.create_call(
        to=PHONE,
        twiml=TWIML,
        status_callback="http://127.0.0.1:9/status/x?attempt=1",
        timeout_s=5,
        time_limit_s=60,
        identify=identify,  # type: ignore[arg-type]
    )


async def test_429_burst_honours_retry_after_and_places_one_call(
    twilio_emulator_factory: Callable[..., Awaitable[TwilioEmulator]],
) -> None:
    tw = await twilio_emulator_factory()
    tw.faults.rest_429_burst, tw.faults.retry_after_s = 2, 0
    calls = await _client(tw)
    try:
        sid = await _create(calls)
    finally:
        await calls.aclose()
    assert [c.sid for c in tw.calls] == [sid] and calls.retries == 2
    # Reported once to the host's heartbeat (the Dispatcher slows the account's dialling).
    assert calls.take_throttle() > 0 and calls.take_throttle() == 0


async def test_500_is_ambiguous_identified_first_then_created_once(
    twilio_emulator_factory: Callable[..., Awaitable[TwilioEmulator]],
) -> None:
    tw = await twilio_emulator_factory()
    tw.faults.rest_500_burst = 1
    asked: list[float] = []

    async def identify(wait_s: float) -> str | None:
        asked.append(wait_s)
        return None  # no callback of this attempt: nothing was placed

    calls = await _client(tw)
    try:
        sid = await _create(calls, identify)
    finally:
        await calls.aclose()
    assert asked and [c.sid for c in tw.calls] == [sid], "identified before the second create"


async def test_late_answered_create_is_adopted_never_placed_twice(
    twilio_emulator_factory: Callable[..., Awaitable[TwilioEmulator]],
) -> None:
    tw = await twilio_emulator_factory()
    tw.faults.late_create_ms, tw.faults.late_creates = 1500, 1

    async def identify(wait_s: float) -> str | None:
        # The attempt's own callback would carry the CallSid; the emulator's log stands in for it.
        placed = await tw.wait_for_calls(1, timeout_s=5)
        return placed[0].sid

    calls = await _client(tw, request_timeout_s=0.3)
    try:
        sid = await _create(calls, identify)
    finally:
        await calls.aclose()
    assert len(tw.calls) == 1 and tw.calls[0].sid == sid and calls.ambiguous == 1


async def test_exhausted_tries_mean_not_placed(
    twilio_emulator_factory: Callable[..., Awaitable[TwilioEmulator]],
) -> None:
    tw = await twilio_emulator_factory()
    tw.faults.rest_429_burst, tw.faults.retry_after_s = 10, 0
    calls = await _client(tw, create_tries=3)
    try:
        with pytest.raises(ProviderUnavailableError) as err:
            await _create(calls)
    finally:
        await calls.aclose()
    assert err.value.provider == "twilio" and tw.calls == []
