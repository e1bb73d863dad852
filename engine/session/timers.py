"""End-of-call timers as a pure object: silence nudge, silence hang-up, closing silence, maximum duration.

Silence is the time since the later of: the customer's last speech, and the
end of the AI's last audio as confirmed by Twilio's mark echo (a reminder's
own audio does not reset it). Nothing counts while either side is speaking.
Once the interview is done (every question answered) and the AI has spoken
and been heard after that, a short ``closing_silence_seconds`` ends the call:
the fallback for a model that never calls ``end_call``.
"""

from __future__ import annotations

import enum

from engine.config import SessionSettings


class TimerAction(enum.StrEnum):
    NUDGE = "nudge"
    SILENCE_HANGUP = "silence_hangup"
    CLOSING_SILENCE = "closing_silence"
    MAX_DURATION = "max_duration"


class CallTimers:
    def __init__(self, settings: SessionSettings, started_at: float) -> None:
        self._nudge = settings.silence_nudge_seconds
        self._hangup = settings.silence_hangup_seconds
        self._closing = settings.closing_silence_seconds
        self._done = False
        self._heard_since_done = False
        self._deadline = started_at + settings.max_call_seconds
        self._quiet_since = started_at
        self._ai_speaking = False
        self._customer_speaking = False
        self._nudged = False
        self._max_fired = False

    @property
    def customer_speaking(self) -> bool:
        return self._customer_speaking

    def customer_started(self, now: float) -> None:
        self._customer_speaking = True
        self._nudged = False

    def customer_stopped(self, now: float) -> None:
        self._customer_speaking = False
        self._quiet_since = now
        self._nudged = False

    def ai_started(self, now: float) -> None:
        """The AI's scripted audio is playing (a reminder's audio is not reported)."""
        self._ai_speaking = True

    def ai_stopped(self, now: float, *, heard: bool = True) -> None:
        """The AI's audio ended: played in full (``heard``; silence counts from now) or cut."""
        self._ai_speaking = False
        if heard or not self._customer_speaking:
            self._quiet_since = max(self._quiet_since, now)
        if heard and self._done:
            self._heard_since_done = True

    def interview_done(self) -> None:
        """Every question is answered: the AI's next turn heard plus a short silence ends the call."""
        if not self._done:
            self._done = True
            self._heard_since_done = False

    @property
    def closing(self) -> bool:
        """The closing silence is running (done, and the AI has been heard since)."""
        return self._done and self._heard_since_done

    def next_check(self, now: float) -> float:
        """Seconds until something could be due (for the timer task's sleep)."""
        quiet_from = self._quiet_since
        candidates = [self._deadline - now, quiet_from + self._nudge - now, quiet_from + self._hangup - now]
        if self.closing:
            candidates.append(quiet_from + self._closing - now)
        future = [c for c in candidates if c > 0]
        return min(future) if future else 0.05

    def due(self, now: float) -> TimerAction | None:
        if now >= self._deadline and not self._max_fired:
            self._max_fired = True
            return TimerAction.MAX_DURATION
        if self._customer_speaking or self._ai_speaking:
            return None
        silent = now - self._quiet_since
        if self.closing and silent >= self._closing:
            return TimerAction.CLOSING_SILENCE
        if silent >= self._hangup:
            return TimerAction.SILENCE_HANGUP
        if silent >= self._nudge and not self._nudged:
            self._nudged = True
            return TimerAction.NUDGE
        return None
