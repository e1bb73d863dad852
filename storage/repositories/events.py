"""events: the outbox. Emitted in the transaction of a change; read as an ordered feed; purged.

- :meth:`EventRepository.emit` calls ``emit_event()`` (migration ``0008_events``): the
  event and one ``events.webhook`` job per configured endpoint (``tx.sinks``) are
  written in the caller's transaction, so they exist exactly when the change does.
- :meth:`feed` reads events after a :class:`~engine.events.types.Cursor` in
  ``(tx_id, seq)`` order, only from transactions older than every one still running
  (``pg_snapshot_xmin``): an event whose transaction commits late can never be
  skipped by a reader that moved past it. Row-level security limits a store owner to
  their stores.
- :meth:`deliveries` is the dead-letter view (admin/service: the jobs joined with
  their events). Retention (``storage.retention``) purges old events.
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from sqlalchemy import (
    ARRAY,
    BigInteger,
    String,
    Text,
    bindparam,
    cast,
    func,
    literal,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects.postgresql import JSONB

from engine.errors import NotFoundError, ValidationError
from engine.events.types import EVENT_TYPES, WEBHOOK_KIND, Cursor, Event
from storage.models import Job, OutgoingEvent
from storage.models.base import table_of
from storage.repositories._common import Repository, aware, page_size
from storage.types import UtcDateTime

_T = table_of(OutgoingEvent)
_C = _T.c
_J = table_of(Job).c
_EMIT = text(
    "SELECT emit_event(:type, :store_id, :subject, :occurred_at, :payload, :endpoints, :max_attempts)"
).bindparams(
    bindparam("payload", type_=JSONB),
    bindparam("endpoints", type_=ARRAY(String)),
    bindparam("occurred_at", type_=UtcDateTime),
)
# The oldest transaction still running (as the bigint tx_id is stored in): every transaction
# older than it has committed or rolled back, so no event below it can still appear.
_XMIN = cast(cast(func.pg_snapshot_xmin(func.pg_current_snapshot()), Text), BigInteger)
MAX_SUBJECT = 100
MAX_PAYLOAD_BYTES = 16_384


class Delivery(msgspec.Struct, frozen=True):
    """One event's delivery to one endpoint (a row of the dead-letter view)."""

    job_id: int
    event_id: str
    event_type: str | None
    store_id: uuid.UUID | None
    endpoint: str
    state: str
    attempts: int
    last_error: str | None
    finished_at: dt.datetime | None


def _deliveries() -> Any:
    event_id = _J.payload["event_id"].astext
    return (
        select(
            _J.id,
            event_id.label("event_id"),
            _C.type,
            _C.store_id,
            _J.payload["endpoint"].astext.label("endpoint"),
            _J.state,
            _J.attempts,
            _J.last_error,
            _J.finished_at,
        )
        .select_from(table_of(Job).outerjoin(_T, _C.id == event_id))
        .where(_J.kind == WEBHOOK_KIND)
    )


def _delivery(r: Any) -> Delivery:
    return Delivery(
        int(r.id),
        r.event_id,
        r.type,
        r.store_id,
        r.endpoint,
        r.state,
        int(r.attempts),
        r.last_error,
        r.finished_at,
    )


def _event(r: Any) -> Event:
    return Event(
        id=r.id,
        seq=int(r.seq),
        tx_id=int(r.tx_id),
        type=r.type,
        store_id=r.store_id,
        subject=r.subject,
        version=int(r.version),
        occurred_at=r.occurred_at,
        payload=dict(r.payload or {}),
    )


class EventRepository(Repository):
    async def emit(
        self,
        type_: str,
        store_id: uuid.UUID,
        subject: str,
        payload: Mapping[str, Any],
        now: dt.datetime | None = None,
    ) -> str:
        """Write an event (and its delivery jobs) in this transaction; returns its id."""
        if type_ not in EVENT_TYPES:
            raise ValidationError("type", f"must be one of {', '.join(EVENT_TYPES)}")
        if not subject or len(subject) > MAX_SUBJECT:
            raise ValidationError("subject", f"must be 1–{MAX_SUBJECT} characters")
        data = dict(payload)
        if len(json.dumps(data, default=str)) > MAX_PAYLOAD_BYTES:
            raise ValidationError("payload", f"must be at most {MAX_PAYLOAD_BYTES} bytes")
        at = aware("now", now) if now is not None else self.tx.now()
        result = await self.session.execute(
            _EMIT,
            {
                "type": type_,
                "store_id": store_id,
                "subject": subject,
                "occurred_at": at,
                "payload": data,
                "endpoints": list(self.tx.sinks.endpoints),
                "max_attempts": self.tx.sinks.max_attempts,
            },
        )
        return str(result.scalar_one())

    async def get(self, event_id: str) -> Event:
        row = (await self.session.execute(select(*_T.c).where(_C.id == event_id))).one_or_none()
        if row is None:
            raise NotFoundError(f"event {event_id} not found")
        return _event(row)

    async def head(self) -> Cursor:
        """The feed's current end: events committed from now on come after it."""
        xmin = (await self.session.execute(select(_XMIN))).scalar_one()
        return Cursor(int(xmin), -1)

    async def feed(
        self,
        after: Cursor,
        limit: int = 100,
        *,
        types: Sequence[str] = (),
        store_id: uuid.UUID | None = None,
    ) -> builtins.list[Event]:
        """Up to ``limit`` events after ``after``, oldest first, from finished transactions only."""
        limit = page_size(limit, 1000)
        stmt = select(*_T.c).where(
            tuple_(_C.tx_id, _C.seq) > tuple_(literal(after.tx_id), literal(after.seq)),
            _C.tx_id < _XMIN,
        )
        if types:
            stmt = stmt.where(_C.type.in_(list(types)))
        if store_id is not None:
            stmt = stmt.where(_C.store_id == store_id)
        rows = (await self.session.execute(stmt.order_by(_C.tx_id, _C.seq).limit(limit))).all()
        return [_event(r) for r in rows]

    async def deliveries(
        self, state: str = "dead", page_size_: int = 50, before_job_id: int | None = None
    ) -> builtins.list[Delivery]:
        """Webhook deliveries in ``state``, newest job first (admin/service: the jobs table is theirs)."""
        stmt = _deliveries().where(_J.state == state)
        if before_job_id is not None:
            stmt = stmt.where(_J.id < before_job_id)
        rows = (await self.session.execute(stmt.order_by(_J.id.desc()).limit(page_size(page_size_)))).all()
        return [_delivery(r) for r in rows]

    async def delivery(self, job_id: int) -> Delivery:
        row = (await self.session.execute(_deliveries().where(_J.id == job_id))).one_or_none()
        if row is None:
            raise NotFoundError(f"delivery {job_id} not found")
        return _delivery(row)
