"""The events RPCs: the WatchEvents stream, and the dead-letter view of webhook deliveries.

A mixin of :class:`engine.api.servicer.CallEngineService` (same gate, database and
clock). Every read runs as the caller's principal: row-level security limits a
store owner to their stores' events; deliveries (the jobs table) are admin only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator, Callable

from google.protobuf import struct_pb2

from engine.api.auth import Caller
from engine.api.convert import _set, timestamp
from engine.api.gate import server_stream, unary
from engine.api.gen import callengine_pb2 as pb
from engine.api.validation import Checker
from engine.domain import Role
from engine.errors import ConflictError, ValidationError
from engine.events.feed import FeedSignal
from engine.events.types import EVENT_TYPES, Cursor, Event
from storage.database import Database
from storage.principal import Principal
from storage.repositories.events import Delivery

log = logging.getLogger("engine.api")

BATCH = 100
POLL_MAX_SECONDS = 1.0
MAX_TYPES = len(EVENT_TYPES)
DELIVERY_STATE_TO_PB = {
    "queued": pb.DELIVERY_STATE_QUEUED,
    "running": pb.DELIVERY_STATE_RUNNING,
    "done": pb.DELIVERY_STATE_DELIVERED,
    "dead": pb.DELIVERY_STATE_DEAD,
}


@dataclasses.dataclass(frozen=True)
class WatchEventsArgs:
    cursor: Cursor | None
    after_event_id: str | None
    from_oldest: bool
    types: tuple[str, ...]
    store_id: uuid.UUID | None


def parse_watch_events(req: pb.WatchEventsRequest) -> WatchEventsArgs:
    c = Checker()
    cursor = None
    start = req.WhichOneof("start")
    if start == "after_cursor":
        try:
            cursor = Cursor.decode(req.after_cursor, "after_cursor")
        except ValidationError:
            c.fail("after_cursor", "is not a cursor returned by WatchEvents")
    if start == "after_event_id" and not 0 < len(req.after_event_id) <= 200:
        c.fail("after_event_id", "must be 1–200 characters")
    types = tuple(dict.fromkeys(req.types))
    unknown = [t for t in types if t not in EVENT_TYPES]
    if unknown:
        c.fail("types", f"unknown type {unknown[0]!r}; one of {', '.join(EVENT_TYPES)}")
    store_id = c.uuid("store_id", req.store_id, required=False)
    c.done()
    return WatchEventsArgs(
        cursor,
        req.after_event_id if start == "after_event_id" else None,
        start == "from_oldest" and req.from_oldest,
        types,
        store_id,
    )


def event_message(e: Event) -> pb.Event:
    data = struct_pb2.Struct()
    data.update(e.payload)
    return _set(
        pb.Event(
            id=e.id,
            type=e.type,
            store_id=str(e.store_id),
            subject=e.subject,
            version=e.version,
            data=data,
            cursor=e.cursor.encode(),
        ),
        occurred_at=timestamp(e.occurred_at),
    )


def delivery_message(d: Delivery) -> pb.Delivery:
    return _set(
        pb.Delivery(
            delivery_id=d.job_id,
            event_id=d.event_id,
            event_type=d.event_type or "",
            store_id=str(d.store_id or ""),
            endpoint=d.endpoint,
            state=DELIVERY_STATE_TO_PB.get(d.state, pb.DELIVERY_STATE_UNSPECIFIED),
            attempts=d.attempts,
            last_error=d.last_error or "",
        ),
        finished_at=timestamp(d.finished_at),
    )


def _principal(caller: Caller) -> Principal:
    return Principal(caller.user_id, caller.role, caller.store_ids)


class EventRpcs:
    """WatchEvents, ListDeadDeliveries, RetryDelivery."""

    db: Database
    clock: Callable[[], dt.datetime]
    watch_poll_seconds: float
    _feed: FeedSignal | None = None

    @property
    def feed_signal(self) -> FeedSignal:
        if self._feed is None:
            self._feed = FeedSignal(self.db)
        return self._feed

    @server_stream
    async def WatchEvents(self, request: pb.WatchEventsRequest, caller: Caller) -> AsyncIterator[pb.Event]:
        args = parse_watch_events(request)
        if args.store_id is not None:
            caller.require_store(args.store_id)
        principal = _principal(caller)
        signal = self.feed_signal
        generation = signal.generation
        async with self.db.transaction(principal) as tx:
            if args.cursor is not None:
                cursor = args.cursor
            elif args.after_event_id is not None:
                cursor = (await tx.events.get(args.after_event_id)).cursor  # RLS: NOT_FOUND if not theirs
            elif args.from_oldest:
                cursor = Cursor(0, -1)
            else:
                cursor = await tx.events.head()
        delay = self.watch_poll_seconds
        while True:
            async with self.db.transaction(principal) as tx:
                batch = await tx.events.feed(cursor, BATCH, types=args.types, store_id=args.store_id)
            for event in batch:
                cursor = event.cursor
                yield event_message(event)
            if len(batch) == BATCH:
                continue
            delay = self.watch_poll_seconds if batch else min(delay * 1.5, POLL_MAX_SECONDS)
            generation = await signal.wait(generation, delay)

    @unary
    async def ListDeadDeliveries(
        self, request: pb.ListDeadDeliveriesRequest, caller: Caller
    ) -> pb.ListDeadDeliveriesResponse:
        caller.require_role(Role.ADMIN)
        c = Checker()
        size = c.page_size("page_size", request.page_size)
        before = None
        if request.page_token:
            if not request.page_token.isdigit() or len(request.page_token) > 19:
                c.fail("page_token", "not a token returned by this API")
            else:
                before = int(request.page_token)
        c.done()
        async with self.db.transaction(_principal(caller)) as tx:
            rows = await tx.events.deliveries("dead", size + 1, before)
        page = rows[:size]
        token = str(page[-1].job_id) if len(rows) > size else ""
        return pb.ListDeadDeliveriesResponse(
            deliveries=[delivery_message(d) for d in page], next_page_token=token
        )

    @unary
    async def RetryDelivery(self, request: pb.RetryDeliveryRequest, caller: Caller) -> pb.Delivery:
        caller.require_role(Role.ADMIN)
        c = Checker()
        if request.delivery_id <= 0:
            c.fail("delivery_id", "required (a Delivery.delivery_id)")
        if len(request.note) > 200:
            c.fail("note", "must be at most 200 characters")
        c.done()
        async with self.db.transaction(_principal(caller)) as tx:
            current = await tx.events.delivery(request.delivery_id)  # NOT_FOUND for anything else
            if current.state != "dead" or not await tx.jobs.requeue(current.job_id, self.clock()):
                raise ConflictError(f"delivery {request.delivery_id} is {current.state}, not dead")
            tx.audit(
                "retry", "jobs", str(current.job_id), f"webhook {current.endpoint}: {request.note}"[:200]
            )
            retried = await tx.events.delivery(request.delivery_id)
        log.info("webhook delivery %d requeued endpoint=%s", retried.job_id, retried.endpoint)
        return delivery_message(retried)
