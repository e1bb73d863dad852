"""Silence and maximum-duration timers on a virtual clock."""

from __future__ import annotations

import asyncio

from engine.clock import VirtualClock
from engine.config import SessionSettings
from engine.session.timers import CallTimers, TimerAction

S = SessionSettings(max_call_seconds=180, silence_nudge_seconds=8, silence_hangup_seconds=20)


def test_nudge_then_hangup_measured_from_last_activity() -> None:
    t = CallTimers(S, 0.0)
    t.ai_started(0.0)
    assert t.due(30.0) is None  # the AI is speaking
    t.ai_stopped(5.0)
    assert t.due(12.9) is None
    assert t.due(13.0) is TimerAction.NUDGE
    assert t.due(14.0) is None  # once per silence
    assert t.due(25.0) is TimerAction.SILENCE_HANGUP


def test_customer_speech_resets_silence() -> None:
    t = CallTimers(S, 0.0)
    t.customer_started(7.0)
    assert t.due(50.0) is None
    t.customer_stopped(50.0)
    assert t.due(57.0) is None and t.due(58.0) is TimerAction.NUDGE


def test_max_duration_fires_once_even_while_talking() -> None:
    t = CallTimers(S, 0.0)
    t.customer_started(1.0)
    assert t.due(180.0) is TimerAction.MAX_DURATION
    assert t.due(181.0) is None


def test_next_check_points_at_the_next_deadline() -> None:
    t = CallTimers(S, 0.0)
    assert t.next_check(0.0) == 8.0
    t.due(8.0)
    assert t.next_check(8.0) == 12.0


async def test_virtual_clock_wakes_sleepers_in_order() -> None:
    clock = VirtualClock()
    woke: list[float] = []

    async def sleeper(d: float) -> None:
        await clock.sleep(d)
        woke.append(clock.monotonic())

    tasks = [asyncio.create_task(sleeper(d)) for d in (3.0, 1.0, 2.0)]
    await asyncio.sleep(0)
    await clock.advance(1.5)
    assert woke == [1.0]
    await clock.advance(5)
    assert woke == [1.0, 2.0, 3.0] and clock.monotonic() == 6.5
    await asyncio.gather(*tasks)


def test_thresholds_are_inclusive_and_each_silence_nudges_once() -> None:
    t = CallTimers(S, 0.0)
    assert t.due(7.99) is None
    assert t.due(8.0) is TimerAction.NUDGE
    assert t.due(19.99) is None
    assert t.due(20.0) is TimerAction.SILENCE_HANGUP
    assert t.due(20.5) is TimerAction.SILENCE_HANGUP  # keeps saying so until the call ends
    again = CallTimers(S, 0.0)
    assert again.due(8.0) is TimerAction.NUDGE
    again.customer_started(9.0)
    assert again.customer_speaking
    again.customer_stopped(10.0)
    assert not again.customer_speaking
    assert again.due(17.99) is None and again.due(18.0) is TimerAction.NUDGE  # a new silence, a new nudge


def test_ai_audio_cut_or_heard_restarts_the_silence_when_nobody_speaks() -> None:
    t = CallTimers(S, 0.0)
    t.ai_started(1.0)
    assert t.due(9.0) is None
    t.ai_stopped(10.0, heard=False)  # cut (e.g. the socket dropped), the customer silent
    assert t.due(17.99) is None and t.due(18.0) is TimerAction.NUDGE
    late = CallTimers(S, 0.0)
    late.customer_stopped(6.0)
    late.ai_started(6.5)
    late.ai_stopped(7.0)
    assert late.due(14.99) is None and late.due(15.0) is TimerAction.NUDGE


def test_max_duration_fires_exactly_at_the_deadline_even_in_silence() -> None:
    long_silence = SessionSettings(max_call_seconds=30, silence_nudge_seconds=100, silence_hangup_seconds=200)
    t = CallTimers(long_silence, 5.0)
    assert t.due(34.99) is None
    assert t.due(35.0) is TimerAction.MAX_DURATION
    assert t.due(36.0) is None


def test_next_check_skips_deadlines_already_reached() -> None:
    t = CallTimers(S, 0.0)
    assert t.next_check(3.0) == 5.0
    # At the nudge moment (not yet handled) the next thing ahead is the hang-up.
    assert t.next_check(8.0) == 12.0
    t.ai_started(8.0)
    assert t.next_check(170.0) == 10.0  # silence deadlines passed; the maximum duration is left
    assert t.next_check(180.0) == 0.05  # everything is due: poll again shortly


def test_next_check_follows_what_restarted_the_silence() -> None:
    t = CallTimers(S, 0.0)
    assert t.customer_speaking is False
    assert t.next_check(7.5) == 0.5  # the nudge is half a second away
    t.customer_started(1.0)
    assert t.customer_speaking is True
    t.ai_stopped(5.0)  # heard in full (the default): silence would count from here
    assert t.next_check(5.0) == 8.0
    cut = CallTimers(S, 0.0)
    cut.customer_started(1.0)
    cut.ai_stopped(5.0, heard=False)  # cut by the customer's barge-in: the silence is theirs to end
    assert cut.next_check(5.0) == 3.0
    cut.customer_stopped(6.0)
    assert cut.customer_speaking is False and cut.next_check(6.0) == 8.0


def test_closing_silence_needs_the_interview_done_and_the_ai_heard_after_it() -> None:
    s = SessionSettings(silence_nudge_seconds=8, silence_hangup_seconds=20, closing_silence_seconds=4)
    t = CallTimers(s, 0.0)
    t.ai_started(1.0)
    t.ai_stopped(3.0)
    t.customer_started(4.0)
    t.customer_stopped(6.0)
    t.interview_done()  # the last answer is in
    assert t.due(11.0) is None  # no closing silence before the AI has spoken again
    t.ai_started(11.5)
    t.ai_stopped(13.0, heard=False)  # cut by a barge-in: not heard
    assert t.due(17.5) is None
    t.ai_started(18.0)
    t.ai_stopped(19.0)  # the goodbye, heard in full
    assert t.next_check(19.0) == 4.0
    assert t.due(22.9) is None
    assert t.due(23.0) is TimerAction.CLOSING_SILENCE
