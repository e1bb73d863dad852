"""A stand-in CallHost for the runtime's integration tests and benchmark, plus the call log it writes to.

Why not the real CallHost: these measure and test the Ray runtime — placement,
supervision, restarts, rate — not the audio path (the session's own tests and
benchmark cover that against the emulators). The stand-in follows the
CallHost contract: it persists the session's status itself (pending →
in_progress → completed) in the real database, writes a transcript line every
tick while "talking", and reports a SessionOutcome-shaped object.

Every dial is recorded in the ``CallLog`` actor (the Twilio emulator's call log
in spirit): session, attempt, host, node, wall time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ray

from engine.config import Settings
from engine.domain import FailureReason, MessageType, SessionStatus, Speaker
from engine.errors import ResourceExhaustedError

CALL_LOG = "callengine-test-call-log"


class CallLog:
    def __init__(
        self, hold_by_attempt: dict[int, float], default_hold: float = 0.5, transcript: bool = True
    ) -> None:
        self.dials: list[dict[str, Any]] = []
        self.hold_by_attempt = hold_by_attempt
        self.default_hold = default_hold
        self.transcript = transcript

    def record(self, entry: dict[str, Any]) -> tuple[float, bool]:
        self.dials.append(entry)
        return self.hold_by_attempt.get(entry["attempt"], self.default_hold), self.transcript

    def count(self) -> int:
        return len(self.dials)

    def all(self) -> list[dict[str, Any]]:
        return list(self.dials)


@dataclass(frozen=True)
class SimOutcome:
    session_id: str
    store_id: str
    status: SessionStatus
    failure_reason: FailureReason | None
    retry_due: bool
    attempt: int


class SimCallHost:
    def __init__(self, settings: Settings, db: Any, on_outcome: Callable[[Any], None]) -> None:
        self.settings = settings
        self.db = db
        self.on_outcome = on_outcome
        self.capacity = settings.host.sessions_per_host
        self._sessions: dict[str, asyncio.Task[None]] = {}
        self.draining = False
        self.public_url = ""
        self.log = ray.get_actor(CALL_LOG, namespace="callengine")

    @property
    def free_slots(self) -> int:
        return 0 if self.draining else self.capacity - len(self._sessions)

    async def start(self) -> None:
        self.public_url = f"ws://127.0.0.1:{os.getpid()}"

    def session(self, session_id: str) -> Any:
        return None

    def session_ids(self) -> list[str]:
        """Ids of the calls live here (the heartbeat reports them, as CallHost's does)."""
        return list(self._sessions)

    async def start_call(self, request: Any) -> None:
        from storage import Principal

        if self.free_slots <= 0:
            raise ResourceExhaustedError("full")
        sid = uuid.UUID(request.session_id)
        async with self.db.transaction(Principal.service()) as tx:
            await tx.sessions.transition(
                sid,
                SessionStatus.PENDING,
                SessionStatus.IN_PROGRESS,
                now=self.db.clock.now(),
                phase="connected",
            )
        entry = {
            "session_id": request.session_id,
            "attempt": request.attempt,
            "host_pid": os.getpid(),
            "node_id": ray.get_runtime_context().get_node_id(),
            "event_loop": type(asyncio.get_running_loop()).__module__.split(".")[0],
            "at": time.time(),
            "phone_ok": request.phone_e164.startswith("+46"),
        }
        hold, transcript = await self.log.record.remote(entry)
        self._sessions[request.session_id] = asyncio.create_task(
            self._talk(request, hold, transcript), name=f"sim-{request.session_id}"
        )

    async def _talk(self, request: Any, hold: float, transcript: bool) -> None:
        from storage import Principal
        from storage.records import TranscriptLine

        sid = uuid.UUID(request.session_id)
        started = time.monotonic()
        async with self.db.transaction(Principal.service()) as tx:
            order = await tx.transcripts.last_order(sid)  # a retry continues the order, as CallHost's
        said = 0
        try:
            if not transcript:
                await asyncio.sleep(hold)
            while transcript and time.monotonic() - started < hold:
                order += 1
                said += 1
                line = TranscriptLine(
                    Speaker.AI,
                    order,
                    f"rad {said} (försök {request.attempt})",
                    said * 100,
                    MessageType.QUESTION,
                )
                async with self.db.transaction(Principal.service()) as tx:
                    await tx.transcripts.add_lines(sid, [line])
                await asyncio.sleep(min(0.2, hold))
            async with self.db.transaction(Principal.service()) as tx:
                await tx.sessions.transition(
                    sid, SessionStatus.IN_PROGRESS, SessionStatus.COMPLETED, now=self.db.clock.now()
                )
            outcome = SimOutcome(
                request.session_id, request.store_id, SessionStatus.COMPLETED, None, False, 1
            )
        finally:
            self._sessions.pop(request.session_id, None)
        self.on_outcome(outcome)

    async def drain(self, deadline_s: float | None = None) -> None:
        self.draining = True
        if self._sessions:
            await asyncio.wait(list(self._sessions.values()), timeout=deadline_s)

    async def stop(self) -> None:
        for task in list(self._sessions.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.db.close()


async def factory(settings: Settings, on_outcome: Callable[[Any], None], **_: Any) -> tuple[Any, Any]:
    from storage import Database, Principal

    db = await Database.open(settings, upgrade=False)
    host = SimCallHost(settings, db, on_outcome)

    async def lookup(session_id: str) -> tuple[str, str]:
        async with db.transaction(Principal.service()) as tx:
            sid = uuid.UUID(session_id)
            record = await tx.sessions.get(sid)
            return await tx.sessions.get_phone(sid), str(record.store_id)

    return host, lookup
