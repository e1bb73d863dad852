"""The outbox on real PostgreSQL: events written with the change (or not at all), one delivery job
per endpoint, an ordered feed that never skips a late commit, versions per subject, store owners
limited to their stores."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from engine.domain import Role, SessionStatus
from engine.errors import PermissionDeniedError
from engine.events.types import CALL_SETTLED, REPORT_READY, WEBHOOK_KIND, Cursor, Event
from storage import Database, Principal
from storage.records import WeeklyReport
from tests.fixtures.postgres import PgFactory

SERVICE = Principal.service()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _events_of(db: Database, subject: str) -> list[Event]:
    async with db.transaction(SERVICE) as tx:
        head = Cursor(0, -1)
        return [e for e in await tx.events.feed(head, 1000) if e.subject == subject]


async def _complete(db: Database, sid: uuid.UUID) -> None:
    async with db.transaction(SERVICE) as tx:
        await tx.sessions.transition(sid, SessionStatus.PENDING, SessionStatus.IN_PROGRESS, now=_now())
    async with db.transaction(SERVICE) as tx:
        await tx.sessions.transition(
            sid, SessionStatus.IN_PROGRESS, SessionStatus.COMPLETED, now=_now(), duration_seconds=95
        )


async def test_a_settled_call_and_its_delivery_jobs_commit_with_the_status_or_not_at_all(
    event_db: Database,
) -> None:
    factory = PgFactory(event_db)
    sid = await factory.session()
    async with event_db.transaction(SERVICE) as tx:
        await tx.sessions.transition(sid, SessionStatus.PENDING, SessionStatus.IN_PROGRESS, now=_now())
    with pytest.raises(RuntimeError):
        async with event_db.transaction(SERVICE) as tx:
            await tx.sessions.transition(sid, SessionStatus.IN_PROGRESS, SessionStatus.COMPLETED, now=_now())
            raise RuntimeError("rolled back")
    assert await _events_of(event_db, str(sid)) == []
    ended = _now()
    async with event_db.transaction(SERVICE) as tx:
        await tx.sessions.transition(
            sid, SessionStatus.IN_PROGRESS, SessionStatus.COMPLETED, now=ended, duration_seconds=95
        )
    [event] = await _events_of(event_db, str(sid))
    assert event.id == f"{CALL_SETTLED}:{sid}:1" and event.version == 1
    assert event.occurred_at == ended
    assert event.payload["status"] == "completed" and event.payload["duration_seconds"] == 95
    assert event.payload["analysis_follows"] is True
    assert "+46" not in json.dumps(event.envelope()), "no phone number in an event"
    async with event_db.transaction(SERVICE) as tx:
        for endpoint in ("crm", "erp"):
            job = await tx.jobs.find(WEBHOOK_KIND, f"{WEBHOOK_KIND}:{endpoint}:{event.id}")
            assert job is not None and job.state == "queued" and job.max_attempts == 8


async def test_a_retryable_failure_is_not_settled_until_no_retry_follows(event_db: Database) -> None:
    sid = await PgFactory(event_db).session()
    async with event_db.transaction(SERVICE) as tx:
        await tx.sessions.transition(sid, SessionStatus.PENDING, SessionStatus.IN_PROGRESS, now=_now())
        await tx.sessions.transition(
            sid, SessionStatus.IN_PROGRESS, SessionStatus.FAILED, now=_now(), failure_reason="no_answer"
        )
    assert await _events_of(event_db, str(sid)) == [], "a retry decision is still due"
    async with event_db.transaction(SERVICE) as tx:  # the Dispatcher gives up
        await tx.sessions.transition(
            sid, SessionStatus.FAILED, SessionStatus.FAILED, now=_now(), failure_reason="max_retries_exceeded"
        )
    [event] = await _events_of(event_db, str(sid))
    assert event.payload["status"] == "failed" and event.payload["failure_reason"] == "max_retries_exceeded"


async def test_the_feed_never_skips_an_event_whose_transaction_commits_late(event_db: Database) -> None:
    store = await PgFactory(event_db).store()
    async with event_db.transaction(SERVICE) as tx:
        start = await tx.events.head()
    async with event_db.transaction(SERVICE) as slow:
        first = await slow.events.emit(REPORT_READY, store, f"{store}:slow", {"n": 1})
        async with event_db.transaction(SERVICE) as fast:
            second = await fast.events.emit(REPORT_READY, store, f"{store}:fast", {"n": 2})
        async with event_db.transaction(SERVICE) as reader:
            seen = await reader.events.feed(start, 100, store_id=store)
        # `fast` committed, but `slow` (an older transaction) is still open: a reader that
        # took `fast` and moved its cursor past it would never see `slow`. So neither shows.
        assert seen == []
    async with event_db.transaction(SERVICE) as reader:
        seen = await reader.events.feed(start, 100, store_id=store)
        assert [e.id for e in seen] == [first, second]
        assert await reader.events.feed(seen[-1].cursor, 100, store_id=store) == []
        assert [e.id for e in await reader.events.feed(seen[0].cursor, 100, store_id=store)] == [second]


async def test_versions_count_the_events_of_one_subject(event_db: Database) -> None:
    store = await PgFactory(event_db).store()
    week = dt.date(2026, 11, 2)
    for _ in range(3):
        async with event_db.transaction(SERVICE) as tx:
            await tx.reports.upsert(WeeklyReport(store_id=store, analysis_week=week, total_feedback_count=4))
    events = await _events_of(event_db, f"{store}:{week.isoformat()}")
    assert [e.version for e in events] == [1, 2, 3]
    assert events[-1].id == f"{REPORT_READY}:{store}:{week.isoformat()}:3"
    assert events[0].payload["total_feedback_count"] == 4


async def test_store_owners_read_only_their_stores_and_their_cancel_emits(event_db: Database) -> None:
    factory = PgFactory(event_db)
    mine, theirs = await factory.store(), await factory.store()
    sid = await factory.session(mine)
    other = await factory.session(theirs)
    owner = Principal(uuid.uuid4(), Role.STORE_OWNER, (mine,))
    async with event_db.transaction(owner) as tx:
        start = Cursor(0, -1)
        await tx.sessions.cancel(sid, _now())  # emits through emit_event(); jobs stay privileged
    async with event_db.transaction(SERVICE) as tx:
        await tx.sessions.cancel(other, _now())
    async with event_db.transaction(owner) as tx:
        seen = await tx.events.feed(start, 1000)
        assert {e.store_id for e in seen} == {mine}
        assert f"{CALL_SETTLED}:{sid}:1" in {e.id for e in seen}
    with pytest.raises(PermissionDeniedError):
        async with event_db.transaction(owner) as tx:
            await tx.events.emit(REPORT_READY, theirs, f"{theirs}:x", {})
    async with event_db.transaction(SERVICE) as tx:
        job = await tx.jobs.find(WEBHOOK_KIND, f"{WEBHOOK_KIND}:crm:{CALL_SETTLED}:{sid}:1")
        assert job is not None
