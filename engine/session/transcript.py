"""Transcript lines in conversation order, released for batched writes.

A slot is reserved when an utterance starts (customer turn committed, AI item
added) and filled when its text arrives (transcription completed, audio
transcript done), which can be out of order. Filled slots are released in
reservation order; a slot still empty after ``hold_seconds`` stops holding the
others back (its text, if it ever comes, is released later with the next
order number). ``message_order`` is assigned at release, so it has no gaps.

Nothing is released while the log is *held*: a call's lines are kept only once
the customer has consented (:meth:`release`); after a refusal they are
:meth:`discard`-ed, never written.
"""

from __future__ import annotations

import msgspec

from engine.domain import MessageType, Speaker
from engine.session.store import TranscriptLine


class _Slot(msgspec.Struct):
    key: str
    speaker: Speaker
    timestamp_ms: int
    reserved_at: float
    line: TranscriptLine | None = None
    skipped: bool = False


class TranscriptLog:
    def __init__(self, *, hold_seconds: float = 3.0, start_order: int = 0, held: bool = False) -> None:
        """``start_order``: the last message_order already stored for the session (a retried
        call continues after the earlier attempts' lines, never reusing their numbers)."""
        self._hold = hold_seconds
        self.held = held
        """Until consent: lines are collected but not released."""
        self._slots: list[_Slot] = []
        self._by_key: dict[tuple[Speaker, str], _Slot] = {}
        self._next = 0
        self._order = max(0, start_order)
        self._late: list[TranscriptLine] = []
        self.history: list[TranscriptLine] = []
        """Every released line, in order (replayed to a new Realtime socket)."""

    def reserve(self, speaker: Speaker, key: str, timestamp_ms: int, now: float) -> None:
        if (speaker, key) in self._by_key:
            return
        slot = _Slot(key, speaker, timestamp_ms, now)
        self._slots.append(slot)
        self._by_key[(speaker, key)] = slot

    def fill(
        self,
        speaker: Speaker,
        key: str,
        content: str,
        message_type: MessageType,
        *,
        now: float,
        timestamp_ms: int,
        confidence: float | None = None,
        language: str = "sv",
    ) -> None:
        slot = self._by_key.get((speaker, key))
        if slot is None:
            self.reserve(speaker, key, timestamp_ms, now)
            slot = self._by_key[(speaker, key)]
        if slot.line is not None:
            return
        line = TranscriptLine(
            speaker=speaker,
            message_order=-1,
            content=content,
            timestamp_ms=slot.timestamp_ms,
            message_type=message_type,
            confidence_score=confidence,
            language_detected=language,
        )
        if slot.skipped:
            self._late.append(line)
        else:
            slot.line = line

    def release(self) -> None:
        """Consent given: lines may be written from now on (the held ones first)."""
        self.held = False

    def discard(self) -> None:
        """Consent refused (or never given): forget every line; nothing is ever released."""
        self.held = True
        self._slots.clear()
        self._by_key.clear()
        self._late.clear()
        self._next = 0

    def take(self, now: float, *, final: bool = False) -> list[TranscriptLine]:
        """Lines ready to write, numbered. ``final`` releases everything filled. Nothing while held."""
        if self.held:
            return []
        out: list[TranscriptLine] = []
        while self._next < len(self._slots):
            slot = self._slots[self._next]
            if slot.line is None:
                if not final and now - slot.reserved_at < self._hold:
                    break
                slot.skipped = True
            else:
                out.append(self._number(slot.line))
            self._next += 1
        if self._late:
            out.extend(self._number(line) for line in self._late)
            self._late.clear()
        return out

    def _number(self, line: TranscriptLine) -> TranscriptLine:
        self._order += 1
        numbered = msgspec.structs.replace(line, message_order=self._order)
        self.history.append(numbered)
        return numbered

    def conversation(self) -> list[TranscriptLine]:
        """Released lines plus filled ones not yet released, in conversation order (for replay)."""
        pending = [s.line for s in self._slots[self._next :] if s.line is not None]
        return [*self.history, *pending]
