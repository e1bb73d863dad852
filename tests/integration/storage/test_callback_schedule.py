"""A requested call-back's time, stored with the failed status, is what the Dispatcher's queue reads."""

from __future__ import annotations

import datetime as dt

from engine.dispatch.sql_queue import SqlSessionQueue
from engine.domain import FailureReason, SessionStatus
from engine.session.pgstore import PostgresSessionStore
from engine.session.state import CallState, Phase
from storage import Database, Principal
from tests.fixtures.postgres import PgFactory


async def test_a_stored_call_back_time_is_read_back_and_never_due_by_itself(
    database: Database, pg_factory: PgFactory
) -> None:
    now = dt.datetime.now(dt.UTC)
    store = await pg_factory.store()
    sid = await pg_factory.session(store, now=now)
    host = "host-cb"
    async with database.transaction(Principal.service()) as tx:
        await tx.sessions.claim_due(now, 1000, host, store_id=store)
    sessions = PostgresSessionStore(database, host_id=host)
    connected = CallState(Phase.CONNECTED, SessionStatus.IN_PROGRESS)
    await sessions.record_transition(str(sid), CallState(), connected, {"call_connected_at": now})
    asked = now + dt.timedelta(hours=5)
    failed = CallState(Phase.FAILED, SessionStatus.FAILED, FailureReason.CALLBACK_REQUESTED)
    await sessions.record_transition(
        str(sid),
        connected,
        failed,
        {"call_ended_at": now, "failure_reason": "callback_requested", "next_attempt_at": asked},
    )
    queue = SqlSessionQueue(database)
    ctx = await queue.retry_context(str(sid))
    assert ctx.requested_at == asked
    # A failed row is not in the queue, whatever its next_attempt_at says.
    async with database.transaction(Principal.service()) as tx:
        later = asked + dt.timedelta(hours=1)
        assert await tx.sessions.claim_due(later, 1000, "other-host", store_id=store) == []
    await queue.schedule_retry(str(sid), asked, FailureReason.CALLBACK_REQUESTED)
    async with database.transaction(Principal.service()) as tx:
        record = await tx.sessions.get(sid)
    assert record.session_status is SessionStatus.PENDING and record.next_attempt_at == asked
    assert record.retry_count == 1
    assert (await queue.retry_context(str(sid))).requested_at is None, "only a failed call-back has one"
