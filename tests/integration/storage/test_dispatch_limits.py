"""DispatchCall's one statement: the verification's number is dialled, never the caller's; limits hold.

Each test works on numbers and stores of its own, so the shared database's other rows
never count towards its cooldown or quota.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from sqlalchemy import text

from engine.errors import PermissionDeniedError, ResourceExhaustedError, ValidationError
from storage import Database, Principal
from storage.repositories._dispatch import DispatchLimits
from tests.fixtures.postgres import PgFactory

T0 = dt.datetime.now(dt.UTC).replace(microsecond=0)
SERVICE = Principal.service()
NONE = DispatchLimits()


def _number() -> str:
    return f"+4673{uuid.uuid4().int % 10_000_000:07d}"


async def test_session_dials_the_verifications_number_not_the_callers(
    database: Database, pg_factory: PgFactory
) -> None:
    store = await pg_factory.store()
    verified = _number()
    verification = await pg_factory.verification(store, verified)
    owner = Principal.store_owner(uuid.uuid4(), {store})
    with pytest.raises(ValidationError) as info:
        await database.dispatch(owner, verification, store, _number(), None, T0, NONE)
    assert info.value.field == "phone_number"
    record = await database.dispatch(owner, verification, store, None, None, T0, NONE)
    async with database.transaction(SERVICE) as tx:
        assert await tx.sessions.get_phone(record.id) == verified
        claimed = [c for c in await tx.sessions.claim_due(T0, 10_000, "h", store_id=store)]
    assert [(c.session.id, c.phone_e164) for c in claimed] == [(record.id, verified)]
    # the same number named explicitly is accepted (an idempotent repeat here)
    again = await database.dispatch(owner, verification, store, verified, None, T0, NONE)
    assert again.id == record.id


async def test_owner_cannot_dispatch_another_stores_verification(
    database: Database, pg_factory: PgFactory
) -> None:
    mine, theirs = await pg_factory.store(), await pg_factory.store()
    their_verification = await pg_factory.verification(theirs, _number())
    owner = Principal.store_owner(uuid.uuid4(), {mine})
    with pytest.raises(PermissionDeniedError):
        await database.dispatch(owner, their_verification, theirs, None, None, T0, NONE)
    with pytest.raises(ValidationError) as info:  # naming their verification under my store
        await database.dispatch(owner, their_verification, mine, None, None, T0, NONE)
    assert info.value.field == "store_id"


async def test_number_cooldown_spans_stores_and_says_when_to_retry(
    database: Database, pg_factory: PgFactory
) -> None:
    number = _number()
    a, b = await pg_factory.store(), await pg_factory.store()
    va, vb = await pg_factory.verification(a, number), await pg_factory.verification(b, number)
    limits = DispatchLimits(number_cooldown_seconds=3600)
    first = await database.dispatch(SERVICE, va, a, None, None, T0, limits)
    later = T0 + dt.timedelta(minutes=10)
    with pytest.raises(ResourceExhaustedError) as info:
        await database.dispatch(SERVICE, vb, b, None, None, later, limits)
    assert info.value.retry_after_seconds == pytest.approx(3000, abs=1)
    # a repeat of the first verification is not a new call: exempt
    assert (await database.dispatch(SERVICE, va, a, None, None, later, limits)).id == first.id
    # a retry of the same session is exempt too (no new session is created for it)
    async with database.transaction(SERVICE) as tx:
        await tx.sessions.claim_due(T0, 10_000, "h", store_id=a)
        await tx.sessions.transition(
            first.id, first.session_status, first.session_status.FAILED, now=later, failure_reason="no_answer"
        )
        retried = await tx.sessions.schedule_retry(first.id, later, "no_answer", later)
    assert retried.retry_count == 1
    after = T0 + dt.timedelta(seconds=3601)
    assert (await database.dispatch(SERVICE, vb, b, None, None, after, limits)).store_id == b


async def test_store_daily_quota_holds_under_concurrency(database: Database, pg_factory: PgFactory) -> None:
    store = await pg_factory.store()
    verifications = [await pg_factory.verification(store, _number()) for _ in range(8)]
    limits = DispatchLimits(store_daily_quota=5)
    results = await asyncio.gather(
        *(database.dispatch(SERVICE, v, store, None, None, T0, limits) for v in verifications),
        return_exceptions=True,
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, ResourceExhaustedError)]
    assert (len(made), len(refused)) == (5, 3)
    assert all(r.retry_after_seconds == pytest.approx(86400, abs=1) for r in refused)
    tomorrow = T0 + dt.timedelta(days=1, seconds=1)
    assert await database.dispatch(SERVICE, verifications[-1], store, None, None, tomorrow, limits)


async def test_one_statement_writes_session_event_and_audit(
    database: Database, pg_factory: PgFactory
) -> None:
    store = await pg_factory.store()
    verification = await pg_factory.verification(store, _number())
    user = uuid.uuid4()
    owner = Principal.store_owner(user, {store})
    record = await database.dispatch(owner, verification, store, None, None, T0, NONE)
    async with database.transaction(Principal.admin(uuid.uuid4())) as tx:
        events = await tx.sessions.events_since(record.id)
        audit = (
            await tx.session.execute(
                text("SELECT actor_id, actor_role, action FROM audit_log WHERE record_id = :r"),
                {"r": str(record.id)},
            )
        ).all()
    assert [(e.status.value, e.detail) for e in events] == [("pending", "created")]
    assert [tuple(a) for a in audit] == [(user, "store_owner", "write")]


async def test_dispatch_survives_its_connections_being_dropped_by_the_server(
    database: Database, pg_factory: PgFactory
) -> None:
    """The dispatch pool keeps raw connections: ones the server dropped (a restart, an
    administrator) are replaced and the statement run again, idempotently."""
    import psycopg

    from storage.database import _libpq_url

    store = await pg_factory.store()
    first = await pg_factory.verification(store, _number())
    await asyncio.gather(*(database.dispatch(SERVICE, first, store, None, None, T0, NONE) for _ in range(3)))
    async with await psycopg.AsyncConnection.connect(
        _libpq_url(database.owner_url), autocommit=True
    ) as owner:
        cur = await owner.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE usename = 'callengine_app' AND pid <> pg_backend_pid()"
        )
        row = await cur.fetchone()
        assert row is not None and row[0] >= 1
    second = await pg_factory.verification(store, _number())
    records = await asyncio.gather(
        *(database.dispatch(SERVICE, second, store, None, None, T0, NONE) for _ in range(3))
    )
    assert len({r.id for r in records}) == 1, "one session for the verification, however often it ran"
    async with database.transaction(SERVICE) as tx:
        assert (await tx.sessions.get(records[0].id)).customer_verification_id == second
