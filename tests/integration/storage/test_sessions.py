"""The session repository: idempotent creation, the dispatch queue, CAS transitions, events."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest

from engine.domain import MAX_RETRIES, SessionStatus
from engine.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from storage import Database, Principal
from tests.fixtures.postgres import PgFactory

T0 = dt.datetime.now(dt.UTC)
SERVICE = Principal.service()


async def test_create_pending_is_idempotent_even_concurrently(
    database: Database, pg_factory: PgFactory
) -> None:
    store = await pg_factory.store()
    verification = await pg_factory.verification(store, "+46701112233")

    async def create() -> uuid.UUID:
        async with database.transaction(SERVICE) as tx:
            return (await tx.sessions.create_pending(verification, store, "+46701112233", None, T0)).id

    results = await asyncio.gather(*(create() for _ in range(6)), return_exceptions=True)
    ids = {r for r in results if isinstance(r, uuid.UUID)}
    errors = [r for r in results if not isinstance(r, uuid.UUID)]
    assert len(ids) == 1
    assert all(isinstance(e, ConflictError) and e.retryable for e in errors)
    assert await create() in ids


async def test_create_pending_rejects_bad_references(database: Database, pg_factory: PgFactory) -> None:
    store, other = await pg_factory.store(), await pg_factory.store()
    verification = await pg_factory.verification(store)
    async with database.transaction(SERVICE) as tx:
        with pytest.raises(NotFoundError):
            await tx.sessions.create_pending(uuid.uuid4(), store, "+46701112233", None, T0)
        with pytest.raises(ValidationError) as info:
            await tx.sessions.create_pending(verification, other, "+46701112233", None, T0)
        assert info.value.field == "store_id"
        with pytest.raises(ValidationError) as info:
            await tx.sessions.create_pending(verification, store, "0701112233", None, T0)
        assert info.value.field == "phone_number"
        with pytest.raises(ValidationError) as info:  # a valid number, but not the verification's
            await tx.sessions.create_pending(verification, store, "+46701112233", None, T0)
        assert info.value.field == "phone_number"


async def test_claim_is_exclusive_between_dispatchers(database: Database, pg_factory: PgFactory) -> None:
    later = T0 + dt.timedelta(days=3650 + int(uuid.uuid4().int % 1000))  # a private slice of the queue
    store = await pg_factory.store()
    ids = set()
    for _ in range(12):
        verification = await pg_factory.verification(store)
        async with database.transaction(SERVICE) as tx:
            record = await tx.sessions.create_pending(verification, store, None, later, T0)
            ids.add(record.id)

    async def claim(host: str) -> list[uuid.UUID]:
        async with database.transaction(SERVICE) as tx:
            return [
                c.session.id
                for c in await tx.sessions.claim_due(later, 5, host, store_id=store)
                if c.session.id in ids
            ]

    claimed = await asyncio.gather(*(claim(f"host-{i}") for i in range(4)))
    flat = [sid for batch in claimed for sid in batch]
    assert len(flat) == len(set(flat))  # nobody claimed a session twice
    async with database.transaction(SERVICE) as tx:
        rest = [
            c.session.id
            for c in await tx.sessions.claim_due(later, 100, "late", store_id=store)
            if c.session.id in ids
        ]
    assert set(flat) | set(rest) == ids


async def test_transition_retry_and_host_loss(database: Database, pg_factory: PgFactory) -> None:
    store = await pg_factory.store()
    host = f"host-{uuid.uuid4().hex[:8]}"
    session_id = await pg_factory.session(store, now=T0)
    async with database.transaction(SERVICE) as tx:
        claimed = await tx.sessions.claim_due(T0, 1000, host, store_id=store)
        assert claimed and claimed[0].session.host_id == host
        rec = await tx.sessions.transition(
            session_id,
            SessionStatus.PENDING,
            SessionStatus.IN_PROGRESS,
            now=T0,
            call_connected_at=T0,
            phase="connected",
        )
        assert rec.session_status is SessionStatus.IN_PROGRESS and rec.call_connected_at == T0
        with pytest.raises(ConflictError, match="in_progress, expected pending"):
            await tx.sessions.transition(session_id, SessionStatus.PENDING, SessionStatus.FAILED, now=T0)
        with pytest.raises(ValidationError):
            await tx.sessions.transition(
                session_id, SessionStatus.IN_PROGRESS, SessionStatus.FAILED, now=T0, store_id=None
            )
    async with database.transaction(SERVICE) as tx:
        assert await tx.sessions.held_by_host(host) == [session_id]
        assert host in await tx.sessions.hosts_with_live_sessions()
        lost = await tx.sessions.fail_in_progress_for_host(host, "host_lost", T0)
        assert await tx.sessions.held_by_host(host) == []
        assert session_id in {r.id for r in lost}
        for attempt in range(1, MAX_RETRIES + 1):
            rec = await tx.sessions.schedule_retry(session_id, T0, "host_lost", T0)
            assert rec.retry_count == attempt and rec.session_status is SessionStatus.PENDING
            await tx.sessions.transition(
                session_id, SessionStatus.PENDING, SessionStatus.FAILED, now=T0, failure_reason="busy"
            )
        with pytest.raises(ConflictError, match="retries"):
            await tx.sessions.schedule_retry(session_id, T0, "busy", T0)
        events = await tx.sessions.events_since(session_id)
        assert [e.status for e in events][:4] == [
            SessionStatus.PENDING,
            SessionStatus.PENDING,
            SessionStatus.IN_PROGRESS,
            SessionStatus.FAILED,
        ]
        assert await tx.sessions.events_since(session_id, events[-1].id) == []


async def test_opted_out_numbers_are_never_claimed(database: Database, pg_factory: PgFactory) -> None:
    phone = f"+4672{uuid.uuid4().int % 10_000_000:07d}"
    store = await pg_factory.store()
    session_id = await pg_factory.session(store, phone=phone, now=T0)
    async with database.transaction(SERVICE) as tx:
        await tx.opt_outs.add_opt_out(phone, "dtmf")
        assert await tx.opt_outs.is_opted_out(phone)
        assert not await tx.opt_outs.is_opted_out("+46700000001")
        claimed = await tx.sessions.claim_due(T0, 1000, "h", store_id=store)
        assert session_id not in {c.session.id for c in claimed}
        rec = await tx.sessions.get(session_id)
        assert (rec.session_status, rec.failure_reason) == (SessionStatus.FAILED, "opted_out")


async def test_list_pages_and_cancel(database: Database, pg_factory: PgFactory) -> None:
    store = await pg_factory.store()
    made = [await pg_factory.session(store, now=T0 + dt.timedelta(seconds=i)) for i in range(5)]
    seen: list[uuid.UUID] = []
    token = None
    async with database.transaction(Principal.store_owner(None, {store})) as tx:
        while True:
            page = await tx.sessions.list(store, SessionStatus.PENDING, page_size_=2, page_token=token)
            seen += [r.id for r in page.items]
            token = page.next_page_token
            if token is None:
                break
    assert seen == list(reversed(made))
    async with database.transaction(SERVICE) as tx:
        rec = await tx.sessions.cancel(made[0], T0)
        assert (rec.session_status, rec.failure_reason) == (SessionStatus.FAILED, "canceled")
        with pytest.raises(ConflictError):
            await tx.sessions.cancel(made[0], T0)


async def test_store_owner_dispatches_and_cancels_only_for_own_stores(
    database: Database, pg_factory: PgFactory
) -> None:
    mine, theirs = await pg_factory.store(), await pg_factory.store()
    my_verification = await pg_factory.verification(mine, "+46701113355")
    their_verification = await pg_factory.verification(theirs, "+46701113366")
    owner = Principal.store_owner(uuid.uuid4(), {mine})
    async with database.transaction(owner) as tx:
        rec = await tx.sessions.create_pending(my_verification, mine, "+46701113355", None, T0)
        assert (await tx.sessions.cancel(rec.id, T0)).failure_reason == "canceled"
        with pytest.raises(NotFoundError):
            await tx.stores.get_verification(my_verification)  # phone numbers stay hidden
    with pytest.raises(PermissionDeniedError):
        async with database.transaction(owner) as tx:
            await tx.sessions.create_pending(their_verification, theirs, "+46701113366", None, T0)
