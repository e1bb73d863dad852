"""Simulated callers: they listen to the AI's played audio and speak on the media stream.

The Twilio emulator's stream drives a caller once per 20 ms media tick with
the outbound audio played to the caller in that tick (``None`` when nothing
played) and sends what the caller returns. Callers count time in ticks, i.e.
virtual time, so their behaviour is the same at any speed factor.

A :class:`ScenarioCaller` decodes the AI's speech (text-in-audio codec), and
after an AI turn ends (its audio stopped for ``reply_delay_ms``) replies with
the scenario's next turn, encoded with ``encode_speech``. Texts are never
logged: they go to the call log only.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import random
from typing import Protocol

from engine.emulators.customer.persona import ENGLISH_FALLBACK, FALLBACK_ANSWER, elaborate, persona_answer
from engine.emulators.scenarios.schema import Scenario, Turn
from engine.emulators.speech import FRAME_BYTES, ULAW_TO_LINEAR, SpeechDecoder, encode_speech, split_frames

TICK_MS = 20
_VOICED_TABLE = bytes(1 if abs(v) > 1000 else 0 for v in ULAW_TO_LINEAR)
_VOICED_MIN = FRAME_BYTES // 10
_GOODBYES = ("hej då", "hejdå", "adjö", "goodbye", "bye!", "ha det bra")
"""How the customer hears that the AI ended the conversation."""
SAFETY_HANGUP_S = 900.0
_DECODE_BATCH = FRAME_BYTES * 10
UNDERRUN_GRACE_MS = 3000
"""How long a gap inside a decoded utterance may last before the turn is taken as over anyway."""


def is_voiced(frame: bytes) -> bool:
    """Energy check: enough loud samples in the frame to be speech (cheap, C-speed)."""
    return frame.translate(_VOICED_TABLE).count(1) >= _VOICED_MIN


@dataclasses.dataclass
class CallerAction:
    """What the caller does in one tick."""

    frame: bytes | None = None
    """160 bytes of mu-law to send, or None for a silence frame."""
    dtmf: str = ""
    hangup: bool = False


class Caller(Protocol):
    def tick(self, played: bytes | None) -> CallerAction: ...


class CallerLog(Protocol):
    """Where a caller reports what it said and heard (the emulator's call record)."""

    customer_said: list[str]
    customer_heard: list[str]
    decode_errors: int


class _NullLog:
    def __init__(self) -> None:
        self.customer_said: list[str] = []
        self.customer_heard: list[str] = []
        self.decode_errors = 0


_SILENT = CallerAction()


class SilentCaller:
    """Answers and says nothing (silence frames), then hangs up after ``hangup_after_s``."""

    def __init__(self, hangup_after_s: float) -> None:
        self._ticks_left = max(1, round(hangup_after_s * 1000 / TICK_MS))

    def tick(self, played: bytes | None) -> CallerAction:
        self._ticks_left -= 1
        if self._ticks_left <= 0:
            return CallerAction(hangup=True)
        return _SILENT


class MachineCaller:
    """A voicemail: plays its greeting, then records silently until it hangs up."""

    def __init__(self, greeting: str, hangup_after_s: float, log: CallerLog | None = None) -> None:
        self._frames = collections.deque(split_frames(encode_speech(greeting)))
        self._ticks_left = max(1, round(hangup_after_s * 1000 / TICK_MS))
        (log or _NullLog()).customer_said.append(greeting)

    def tick(self, played: bytes | None) -> CallerAction:
        self._ticks_left -= 1
        if self._ticks_left <= 0:
            return CallerAction(hangup=True)
        return CallerAction(frame=self._frames.popleft()) if self._frames else _SILENT


class ScenarioCaller:
    """A customer following a scenario: consent, answers in order (or a persona), barge-in, DTMF, hang-up."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        departments: list[str] | None = None,
        campaigns: list[str] | None = None,
        log: CallerLog | None = None,
        seed: int | str | None = None,
    ) -> None:
        self._scenario = scenario
        self._departments = departments or []
        self._campaigns = campaigns or []
        self._log: CallerLog = log or _NullLog()
        self._rng = random.Random(seed if seed is not None else scenario.name)
        self._decoder = SpeechDecoder()
        self._turns: list[Turn] = [_as_turn(scenario.consent)] + [_as_turn(a) for a in scenario.answers]
        self._next_turn = 0
        self._tick = 0
        limit_s = scenario.hangup_after_seconds or SAFETY_HANGUP_S
        self._hangup_tick = round(limit_s * 1000 / TICK_MS)
        # Outbound state.
        self._speaking: collections.deque[bytes] = collections.deque()
        self._after_speech: Turn | None = None  # dtmf/hangup to do once the speech has been sent
        # Listening state for the current AI turn.
        self._ai_in_turn = False
        self._turn_start = 0
        self._last_voice = 0
        self._heard: list[str] = []
        self._pending = bytearray()
        self._played = 0  # AI frames played in this turn
        self._played_bytes = 0  # ... and their bytes (8 per ms of audio)
        self._played_before = 0
        self._replied = False  # already replied to this AI turn (barge-in)
        self._closing_done = False
        self._previous_heard: tuple[str, ...] = ()
        self._previous_reply: Turn | None = None
        self._was_vague = False
        self._hung_up = False

    # -- the per-tick loop ---------------------------------------------------

    def tick(self, played: bytes | None) -> CallerAction:
        self._tick += 1
        if self._hung_up:
            return CallerAction(hangup=True)
        if self._tick >= self._hangup_tick:
            self._hung_up = True
            return CallerAction(hangup=True)
        self._listen(played)
        self._maybe_barge_in()
        self._maybe_reply()
        return self._speak()

    def _listen(self, played: bytes | None) -> None:
        self._played_before = self._played_bytes  # AI audio played before this tick
        voiced = played is not None and is_voiced(played)
        if voiced:
            if not self._ai_in_turn:
                self._ai_in_turn = True
                self._turn_start = self._tick
                self._heard = []
                self._played = 0
                self._played_bytes = self._played_before = 0
                self._replied = False
            self._last_voice = self._tick
        if self._ai_in_turn and played is not None:
            # Only bytes that played: a gap (playback underrun) is silence to the ear, but the
            # utterance's text lives in the byte stream, which must arrive intact and in order.
            self._played += 1
            self._played_bytes += len(played)
            self._pending += played
            if len(self._pending) >= _DECODE_BATCH:
                self._decode()

    def _decode(self) -> None:
        # Batches: the decoder's numpy work costs per call, not per byte.
        texts = self._decoder.feed(bytes(self._pending))
        self._pending.clear()
        if texts:
            self._heard.extend(texts)
            self._log.customer_heard.extend(texts)
        self._log.decode_errors = self._decoder.errors

    def _maybe_barge_in(self) -> None:
        if not self._ai_in_turn or self._replied or self._speaking:
            return
        turn = self._peek_turn()
        if turn is None or turn.barge_in_ms is None:
            return
        # Measured in the AI's audio that has played, so the offset is exact even when
        # playback stalls (a human would talk over the same words).
        if self._played_before // 8 >= turn.barge_in_ms:
            self._replied = True
            self._next_turn += 1
            self._start_turn(turn)

    def _maybe_reply(self) -> None:
        if not self._ai_in_turn:
            return
        turn = self._peek_turn()
        delay_ms = self._scenario.reply_delay_ms
        if turn is not None and turn.delay_ms is not None and not self._is_closing():
            delay_ms = turn.delay_ms
        silent_ms = (self._tick - self._last_voice) * TICK_MS
        if silent_ms < max(delay_ms, TICK_MS):
            return
        self._decode()
        if silent_ms < UNDERRUN_GRACE_MS and self._utterance_unfinished():
            # A gap inside an utterance: the audio is late (a playback underrun in real time,
            # likely at a high speed factor), not the end of the AI's turn.
            return
        # The AI's turn is over.
        self._ai_in_turn = False
        self._decoder.reset()
        if self._replied:
            return
        if self._is_closing():
            if self._scenario.goodbye and not self._closing_done:
                self._start_turn(Turn(say=self._scenario.goodbye))
            self._closing_done = True
            return
        if self._closing_done:
            return
        heard = tuple(self._heard)
        previous = self._previous_reply
        if heard and heard == self._previous_heard and previous is not None and not previous.silence:
            # The AI repeated itself (it did not catch the reply): say the same thing again.
            turn = previous
        else:
            turn = self._peek_turn()
            if turn is not None:
                self._next_turn += 1
            else:
                turn = Turn(say=self._improvise())
        self._previous_heard, self._previous_reply = heard, turn
        self._start_turn(turn)

    def _utterance_unfinished(self) -> bool:
        # Every utterance carries its text near its start, so an undecoded one is unfinished;
        # a decoded one is finished once as many frames as its audio has have played.
        if not self._heard:
            return True
        return self._played < sum(_utterance_frames(t) for t in self._heard) - 1

    def _speak(self) -> CallerAction:
        if self._speaking:
            frame = self._speaking.popleft()
            if self._speaking or self._after_speech is None:
                return CallerAction(frame=frame)
            return self._finish_turn(frame)
        if self._after_speech is not None:
            return self._finish_turn(None)
        return _SILENT

    # -- helpers --------------------------------------------------------------

    def _finish_turn(self, frame: bytes | None) -> CallerAction:
        turn, self._after_speech = self._after_speech, None
        assert turn is not None
        if turn.hangup:
            self._hung_up = True
        return CallerAction(frame=frame, dtmf=turn.dtmf or "", hangup=turn.hangup)

    def _start_turn(self, turn: Turn) -> None:
        if turn.silence:
            return
        if turn.say:
            self._log.customer_said.append(turn.say)
            self._speaking.extend(split_frames(encode_speech(turn.say)))
        if turn.dtmf or turn.hangup:
            self._after_speech = turn

    def _peek_turn(self) -> Turn | None:
        return self._turns[self._next_turn] if self._next_turn < len(self._turns) else None

    def _is_closing(self) -> bool:
        return any(g in text.casefold() for text in self._heard for g in _GOODBYES)

    def _improvise(self) -> str:
        persona = self._scenario.persona
        if persona is None:
            return FALLBACK_ANSWER
        question = " ".join(self._heard)
        if persona == "vague":
            # Vague first; the follow-up ("tell me more about …") gets the details.
            self._was_vague = not self._was_vague
            if not self._was_vague:
                return elaborate(question, self._departments, self._campaigns, self._rng)
        if persona == "english" and not any(
            name.casefold() in question.casefold() for name in self._departments + self._campaigns
        ):
            return ENGLISH_FALLBACK
        return persona_answer(persona, question, self._departments, self._campaigns, self._rng)


@functools.lru_cache(maxsize=1024)
def _utterance_frames(text: str) -> int:
    return len(encode_speech(text)) // FRAME_BYTES


def _as_turn(entry: str | Turn) -> Turn:
    return Turn(say=entry) if isinstance(entry, str) else entry
