"""What a call session writes while it runs, and how each write gets through a database outage.

Status changes, the call's SID and the give-back are *held* (:func:`~engine.session.durable.held`):
the session waits for them, in order. Transcript lines, consent records, interview progress and
an opt-out are written as they happen without holding the call up; what the database could not
take is kept and written, held, after the line is down and before the terminal status
(:meth:`SessionWrites.flush_final`), which starts the analysis.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from engine.clock import Clock
from engine.errors import CallEngineError
from engine.session.control import ConsentAnswer, ConsentDecided, Effect, ProgressMade
from engine.session.durable import held
from engine.session.metrics import CallMetrics
from engine.session.store import SessionStore, TranscriptLine
from engine.session.transcript import TranscriptLog

STORE_HOLD_SECONDS = 600.0
"""How long a status change is held (and retried) while the database is unreachable."""


class SessionWrites:
    """The storage writes of one attempt of one session."""

    def __init__(
        self,
        session_id: str,
        attempt: int,
        phone_e164: str,
        *,
        store: SessionStore,
        clock: Clock,
        log: logging.LoggerAdapter[logging.Logger],
        metrics: CallMetrics,
    ) -> None:
        self._id = session_id
        self._attempt = attempt
        self._phone_e164 = phone_e164
        self._store = store
        self._clock = clock
        self._log = log
        self._metrics = metrics
        self.opted_out = False
        """The number's opt-out is stored (written by this session, or found before dialling)."""
        self._unflushed: list[TranscriptLine] = []
        self._unpersisted: list[Effect] = []
        """Consent and progress writes the database could not take yet (written before the end)."""
        self._writes: set[asyncio.Task[None]] = set()
        """Consent, progress and opt-out writes started during the call (awaited before it ends)."""

    async def held(self, write: Any, what: str, hold_s: float | None = None) -> Any:
        return await held(
            write,
            clock=self._clock,
            what=what,
            hold_s=STORE_HOLD_SECONDS if hold_s is None else hold_s,
            log=self._log,
            on_retry=lambda: self._metrics.error("store_write_held"),
        )

    async def flush(self, lines: list[TranscriptLine]) -> None:
        batch = [*self._unflushed, *lines]
        try:
            await self._store.add_transcript_lines(self._id, batch)
            self._unflushed = []
        except CallEngineError as exc:
            self._unflushed = batch
            self._metrics.error("transcript_flush_failed")
            self._log.warning("transcript flush failed (%d lines kept): %s", len(batch), exc)

    async def flush_final(self, transcript: TranscriptLog) -> None:
        """Everything a connected call kept, then its metrics."""
        # After the line is down (never keep a customer waiting on storage), before the terminal status.
        await self._persist_kept()
        await self.flush(transcript.take(self._clock.monotonic(), final=True))
        if self._unflushed:
            # The last lines are held like a status change: the terminal status (which
            # starts the analysis) is written only after every spoken line is stored.
            batch = list(self._unflushed)
            try:
                await self.held(lambda: self._store.add_transcript_lines(self._id, batch), "final transcript")
                self._unflushed = []
            except CallEngineError as exc:
                self._log.error("%d transcript lines could not be stored: %s", len(batch), exc)
        record = self._metrics.record()
        try:
            await self.held(lambda: self._store.add_call_metrics(self._id, record), "call metrics", 60.0)
        except CallEngineError as exc:
            self._log.warning("call metrics not stored: %s", exc)

    def _write_soon(self, write: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(write, name=f"{name}-{self._id}")
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def wait_for_writes(self, wait_s: float) -> None:
        """Wait (up to ``wait_s``) for the writes started during the call."""
        if self._writes:  # the bridge's end does not cancel them: they finish first
            await asyncio.wait(set(self._writes), timeout=wait_s)

    def persist_soon(self, effects: list[Effect]) -> None:
        if any(type(e) in (ConsentDecided, ProgressMade) for e in effects):
            self._write_soon(self.persist(effects), "persist")

    async def opt_out_soon(self) -> None:
        self._write_soon(self._record_opt_out_logged(), "opt-out")

    async def _record_opt_out_logged(self) -> None:
        try:
            await self.record_opt_out()
        except CallEngineError as exc:  # written again when the call ends with the opt-out
            self._metrics.error("opt_out_write_failed")
            self._log.warning("opt-out not stored yet: %s", exc)

    async def persist(self, effects: list[Effect]) -> None:
        """Consent records and interview progress, written as they happen. While the database is
        away they are kept (and the rest with them: one timeout, not one per write) and written,
        held, before the terminal status (:meth:`_persist_kept`): the consent record is the proof
        GDPR asks for, and progress is what a retry continues from."""
        writes = [e for e in effects if type(e) in (ConsentDecided, ProgressMade)]
        if self._unpersisted:  # the database is known to be away: queue behind, in order
            self._unpersisted.extend(writes)
            return
        for i, effect in enumerate(writes):
            try:
                await self._write_effect(effect)
            except CallEngineError as exc:
                self._metrics.error(
                    "progress_write_failed" if type(effect) is ProgressMade else "consent_write_failed"
                )
                self._log.warning("%s not stored: %s", type(effect).__name__, exc)
                if exc.retryable:
                    self._unpersisted.extend(writes[i:])
                    return

    async def _write_effect(self, effect: Effect) -> None:
        store, attempt = self._store, self._attempt
        if type(effect) is ConsentDecided:
            await store.record_consent(self._id, attempt, effect.record)  # first per attempt stands
            if effect.record.answer is not ConsentAnswer.GRANTED:
                self._log.info("consent %s", effect.record.answer.value)
        elif type(effect) is ProgressMade:
            await store.record_progress(self._id, attempt, effect.update)

    async def _persist_kept(self) -> None:
        """What :meth:`persist` could not write during the call, held like the last lines."""
        if not self._unpersisted:
            return
        kept, self._unpersisted = self._unpersisted, []

        async def write_all() -> None:
            for effect in kept:
                await self._write_effect(effect)

        try:
            await self.held(write_all, "consent and progress")
        except CallEngineError as exc:
            self._log.error("%d consent/progress records could not be stored: %s", len(kept), exc)

    async def record_opt_out(self) -> None:
        if self.opted_out:
            return
        await self._store.add_opt_out(self._id, self._phone_e164)  # idempotent
        self.opted_out = True  # only once written: a write cut short is written again at the end
        self._log.info("opt-out recorded")
