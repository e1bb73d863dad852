"""jobs: the engine's one durable, transactional job queue (Oban's and procrastinate's table design).

- :meth:`JobRepository.enqueue` writes a job *in the caller's transaction*, so
  a job exists exactly when the change that calls for it committed (a
  completed session and its analysis jobs, a reward and its outgoing event).
  ``(kind, idempotency_key)`` is unique: enqueueing the same job twice is a no-op.
- :meth:`claim` takes due jobs with ``FOR UPDATE SKIP LOCKED`` under a lease
  (``locked_until``); a job whose worker died is claimed again once its lease
  ran out. Each claim counts an attempt.
- :meth:`complete` / :meth:`fail` finish a run; ``fail`` re-queues with a
  later ``run_at`` or, at ``max_attempts``, marks the job ``dead`` (kept, with
  its last error, for an operator; visible in the metrics).

Only the claiming worker (``locked_by``) may finish or extend a job, so a
worker that lost its lease cannot overwrite the run that replaced it.
``last_error`` holds an error class and engine message, never personal data.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from sqlalchemy import and_, case, delete, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from engine.errors import ValidationError
from storage.models import Job
from storage.models.base import table_of
from storage.repositories._common import Repository, aware

_T = table_of(Job)
_C = _T.c
NOTIFY_CHANNEL = "callengine_jobs"
"""``NOTIFY`` channel: the payload is the kind of a job just committed."""
MAX_KIND = 64
MAX_KEY = 200


class JobRecord(msgspec.Struct, frozen=True):
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    idempotency_key: str | None
    run_at: dt.datetime
    created_at: dt.datetime


class JobRow(msgspec.Struct, frozen=True):
    """A job's full row (inspection, tests)."""

    id: int
    kind: str
    state: str
    attempts: int
    max_attempts: int
    idempotency_key: str | None
    last_error: str | None
    run_at: dt.datetime
    finished_at: dt.datetime | None


_CLAIMED = (
    _C.id,
    _C.kind,
    _C.payload,
    _C.attempts,
    _C.max_attempts,
    _C.idempotency_key,
    _C.run_at,
    _C.created_at,
)


_OTHER = _T.alias("other_job")


def _yielding(kind: str, others: Sequence[str], waited_since: dt.datetime, now: dt.datetime) -> Any:
    """Rows of ``kind`` are due only while no job of ``others`` is due or running, or once they
    have waited since before ``waited_since`` (one uncorrelated check: evaluated once per claim)."""
    o = _OTHER.c
    busy = (
        select(literal(1))
        .where(
            o.kind.in_(list(others)),
            or_(and_(o.state == "queued", o.run_at <= now), o.state == "running"),
        )
        .exists()
    )
    return or_(_C.kind != kind, ~busy, _C.run_at < waited_since)


def _check_kind(kind: str) -> None:
    if not kind or len(kind) > MAX_KIND or not kind.replace("_", "").replace(".", "").isalnum():
        raise ValidationError("kind", f"must be 1–{MAX_KIND} letters, digits, '_' or '.'")


class JobRepository(Repository):
    async def enqueue(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        now: dt.datetime,
        idempotency_key: str | None = None,
        run_at: dt.datetime | None = None,
        max_attempts: int = 8,
    ) -> int | None:
        """Add a job in this transaction; its id, or None if ``(kind, idempotency_key)`` exists."""
        _check_kind(kind)
        if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_KEY:
            raise ValidationError("idempotency_key", f"must be 1–{MAX_KEY} characters")
        if max_attempts < 1:
            raise ValidationError("max_attempts", "must be >= 1")
        aware("now", now)
        stmt = (
            pg_insert(_T)
            .values(
                kind=kind,
                payload=dict(payload),
                idempotency_key=idempotency_key,
                state="queued",
                run_at=aware("run_at", run_at) if run_at is not None else now,
                max_attempts=max_attempts,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["kind", "idempotency_key"])
            .returning(_C.id)
        )
        job_id = (await self.session.execute(stmt)).scalar_one_or_none()
        if job_id is None:
            return None
        # Delivered on commit only: listening runners claim at once instead of at their next poll.
        await self.session.execute(select(func.pg_notify(NOTIFY_CHANNEL, kind)))
        return int(job_id)

    async def claim(
        self,
        kinds: Sequence[str],
        limit: int,
        worker: str,
        lease: dt.timedelta,
        now: dt.datetime,
        *,
        yields: Mapping[str, tuple[Sequence[str], dt.timedelta]] | None = None,
    ) -> builtins.list[JobRecord]:
        """Take up to ``limit`` due jobs of ``kinds`` for ``worker`` until ``now + lease``.

        Due: queued with ``run_at <= now``, or running with an expired lease (its
        worker died mid-run). An expired job that already used every attempt is
        marked dead instead of claimed.

        ``yields``: kind → (other kinds, longest wait). A job of that kind is not taken while
        jobs of the other kinds are due or running — they go first, whichever workers run
        them — unless it has waited that long already (so it is late, never starved).
        """
        if not kinds or limit <= 0:
            return []
        aware("now", now)
        expired = and_(_C.state == "running", _C.locked_until < now, _C.kind.in_(list(kinds)))
        await self.session.execute(
            update(_T)
            .where(expired, _C.attempts >= _C.max_attempts)
            .values(
                state="dead", finished_at=now, locked_by=None, locked_until=None, last_error="lease expired"
            )
        )
        due = and_(
            _C.kind.in_(list(kinds)),
            or_(
                and_(_C.state == "queued", _C.run_at <= now),
                and_(_C.state == "running", _C.locked_until < now),
            ),
            *(_yielding(kind, others, now - wait, now) for kind, (others, wait) in (yields or {}).items()),
        )
        picked = (
            select(_C.id).where(due).order_by(_C.run_at, _C.id).limit(limit).with_for_update(skip_locked=True)
        ).cte("picked")
        stmt = (
            update(_T)
            .where(_C.id.in_(select(picked.c.id)))
            .values(
                state="running", attempts=_C.attempts + 1, locked_by=worker[:100], locked_until=now + lease
            )
            .returning(*_CLAIMED)
        )
        rows = (await self.session.execute(stmt)).all()
        return sorted(
            (
                JobRecord(
                    int(r.id),
                    r.kind,
                    dict(r.payload or {}),
                    int(r.attempts),
                    int(r.max_attempts),
                    r.idempotency_key,
                    r.run_at,
                    r.created_at,
                )
                for r in rows
            ),
            key=lambda j: (j.run_at, j.id),
        )

    async def extend(self, ids: Sequence[int], worker: str, lease: dt.timedelta, now: dt.datetime) -> int:
        """Push the lease of ``worker``'s running jobs; how many it still holds."""
        if not ids:
            return 0
        result = await self.session.execute(
            update(_T)
            .where(_C.id.in_(list(ids)), _C.state == "running", _C.locked_by == worker[:100])
            .values(locked_until=aware("now", now) + lease)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def complete(self, job_id: int, worker: str, now: dt.datetime) -> bool:
        """running → done; False if ``worker`` no longer holds the job (its lease went to another)."""
        result = await self.session.execute(
            update(_T)
            .where(_C.id == job_id, _C.state == "running", _C.locked_by == worker[:100])
            .values(
                state="done",
                finished_at=aware("now", now),
                locked_by=None,
                locked_until=None,
                last_error=None,
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def fail(
        self, job_id: int, worker: str, error: str, retry_at: dt.datetime | None, now: dt.datetime
    ) -> str | None:
        """A run failed: back to queued at ``retry_at``, or dead (no ``retry_at`` or attempts used up).

        Returns the new state, or None if ``worker`` no longer holds the job.
        """
        aware("now", now)
        dead = retry_at is None
        new_state = case((_C.attempts >= _C.max_attempts, "dead"), else_="dead" if dead else "queued")
        row = (
            await self.session.execute(
                update(_T)
                .where(_C.id == job_id, _C.state == "running", _C.locked_by == worker[:100])
                .values(
                    state=new_state,
                    run_at=aware("retry_at", retry_at) if retry_at is not None else _C.run_at,
                    last_error=error[:500],
                    locked_by=None,
                    locked_until=None,
                    finished_at=case((new_state == "dead", literal(now, _C.finished_at.type)), else_=None),
                )
                .returning(_C.state)
            )
        ).one_or_none()
        return None if row is None else str(row[0])

    async def requeue(self, job_id: int, run_at: dt.datetime) -> bool:
        """An operator's retry of a dead job: queued again with one more attempt allowed."""
        result = await self.session.execute(
            update(_T)
            .where(_C.id == job_id, _C.state == "dead")
            .values(
                state="queued",
                run_at=aware("run_at", run_at),
                max_attempts=_C.attempts + 1,
                finished_at=None,
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def counts(self) -> dict[tuple[str, str], int]:
        """Jobs per (kind, state), for the metrics."""
        rows = await self.session.execute(select(_C.kind, _C.state, func.count()).group_by(_C.kind, _C.state))
        return {(r[0], r[1]): int(r[2]) for r in rows}

    async def oldest_due(self, now: dt.datetime) -> dict[str, float]:
        """Seconds the oldest due queued job of each kind has waited (queue lag)."""
        rows = await self.session.execute(
            select(_C.kind, func.min(_C.run_at))
            .where(_C.state == "queued", _C.run_at <= aware("now", now))
            .group_by(_C.kind)
        )
        return {r[0]: max(0.0, (now - r[1]).total_seconds()) for r in rows}

    async def get(self, job_id: int) -> JobRow | None:
        return await self._row(_C.id == job_id)

    async def find(self, kind: str, idempotency_key: str) -> JobRow | None:
        return await self._row(and_(_C.kind == kind, _C.idempotency_key == idempotency_key))

    async def _row(self, where: Any) -> JobRow | None:
        r = (
            await self.session.execute(
                select(
                    _C.id,
                    _C.kind,
                    _C.state,
                    _C.attempts,
                    _C.max_attempts,
                    _C.idempotency_key,
                    _C.last_error,
                    _C.run_at,
                    _C.finished_at,
                ).where(where)
            )
        ).one_or_none()
        return None if r is None else JobRow(*r)

    async def purge_finished(self, before: dt.datetime, limit: int = 1000) -> int:
        """Delete up to ``limit`` done jobs finished before ``before`` (dead ones are kept)."""
        ids = (
            select(_C.id)
            .where(_C.state == "done", _C.finished_at < aware("before", before))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        result = await self.session.execute(delete(_T).where(_C.id.in_(ids)))
        return int(result.rowcount)  # type: ignore[attr-defined]
