"""The reward ledger on real PostgreSQL: created where assessments are stored, moved where the fraud
verdict is folded, settled all-or-none, audited, and hidden from store owners except as totals."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import text

from engine.analysis import service
from engine.domain import CheckType, ReviewDecision
from engine.errors import ConflictError, NotFoundError, PermissionDeniedError
from engine.rewards.ledger import RewardState
from engine.rewards.money import Money, percentage_of
from storage import Database, Principal
from storage import records as rec
from tests.integration.analysis.conftest import Seeder
from tests.integration.analysis.test_service import AFTERNOON, NOW, unique_answers
from tests.unit.analysis.samples import DETAILED

S = RewardState
ADMIN = Principal.admin(uuid.uuid4())


async def reward(db: Database, sid: uuid.UUID) -> rec.RewardEntry:
    async with db.transaction(Principal.service()) as tx:
        return await tx.rewards.get_by_session(sid)


async def ledger_audit(db: Database, entry_id: uuid.UUID) -> list[str]:
    async with db.transaction(ADMIN) as tx:
        rows = await tx.session.execute(
            text(
                "SELECT detail FROM audit_log WHERE table_name = 'reward_ledger' AND record_id = :id ORDER BY id"
            ),
            {"id": str(entry_id)},
        )
        return [r[0] for r in rows]


def suspicious(check: CheckType, confidence: float, *, review: bool) -> rec.FraudResult:
    return rec.FraudResult(
        check_type=check,
        is_suspicious=True,
        confidence_level=confidence,
        fraud_indicators={"indicators": ["test"]},
        decision_reasoning="planted by the test",
        manual_review_required=review,
    )


async def test_assessed_call_is_held_until_fraud_checks_then_approved(
    database: Database, seeder: Seeder
) -> None:
    store = await seeder.store()
    sid = await seeder.call(store, DETAILED, call_at=AFTERNOON, amount=Decimal("249.50"))
    assessment = await service.assess_session(database, None, sid, now=NOW)
    held = await reward(database, sid)
    pct = Decimal(str(assessment.reward_percentage)).quantize(Decimal("0.01"))
    assert held.state is S.PENDING and held.state_reason == "fraud_checks_open"
    assert held.purchase == Money.of("249.50") and held.reward_percentage == pct
    assert held.amount == percentage_of(Money.of("249.50"), pct) and held.created_at == NOW
    later = NOW + dt.timedelta(minutes=3)
    verdict = await service.check_fraud(database, None, sid, now=later)
    assert not verdict.is_fraudulent
    approved = await reward(database, sid)
    assert approved.state is S.APPROVED and approved.id == held.id and approved.updated_at == later
    assert await ledger_audit(database, held.id) == [
        f"new → pending: {held.amount} (fraud_checks_open)",
        f"pending → approved: {held.amount} (fraud_checks_clear)",
    ]
    # a re-assessment with the same result changes nothing and writes no audit row
    await service.assess_session(database, None, sid, now=later)
    assert len(await ledger_audit(database, held.id)) == 2


async def test_fraud_withholds_and_a_review_releases(database: Database, seeder: Seeder) -> None:
    store = await seeder.store()
    answers = unique_answers()
    original = await seeder.call(store, answers, call_at=AFTERNOON)
    copy = await seeder.call(store, answers, call_at=AFTERNOON + dt.timedelta(hours=2))
    # fraud first, assessment second: the entry is born in its final state
    await service.check_fraud(database, None, original, now=NOW)
    assert (await service.check_fraud(database, None, copy, now=NOW)).is_fraudulent
    folded = await service.assess_session(database, None, copy, now=NOW)
    withheld = await reward(database, copy)
    assert folded.reward_percentage == 2.0  # the assessment keeps its 2–15 % range
    assert withheld.state is S.WITHHELD and withheld.amount == Money.zero("SEK")
    assert withheld.reward_percentage == Decimal("2.00") and withheld.purchase == Money.of("199.00")
    async with database.transaction(ADMIN) as tx:
        rows = (await tx.fraud.list(rec.FraudFilter(call_session_id=copy))).items
    pattern = next(r for r in rows if r.check_type == CheckType.PATTERN)
    assert pattern.id is not None
    await service.review_fraud_result(database, ADMIN, pattern.id, ReviewDecision.FALSE_POSITIVE, now=NOW)
    released = await reward(database, copy)
    assert released.state is S.APPROVED and released.amount.amount > 0
    assert released.amount == percentage_of(released.purchase, released.reward_percentage)
    details = await ledger_audit(database, withheld.id)
    assert details[0].startswith("new → withheld: 0.00 SEK (fraud)")
    assert details[1].startswith("withheld → approved:")


async def test_manual_review_holds_the_reward(database: Database, seeder: Seeder) -> None:
    store = await seeder.store()
    sid = await seeder.call(store, unique_answers(), call_at=AFTERNOON)
    await service.assess_session(database, None, sid, now=NOW)
    # a grey-zone verdict (0.6: review, below the 0.8 fraud threshold), stored as the fraud pool would
    async with database.transaction(Principal.service()) as tx:
        stored = await tx.fraud.add_results(sid, [suspicious(CheckType.CONTENT, 0.6, review=True)])
    await service.assess_session(database, None, sid, now=NOW)  # the assessor folds what is stored
    assert (await reward(database, sid)).state is S.UNDER_REVIEW
    row_id = stored[0].id
    assert row_id is not None
    await service.review_fraud_result(database, ADMIN, row_id, ReviewDecision.NEEDS_INVESTIGATION, now=NOW)
    assert (await reward(database, sid)).state is S.UNDER_REVIEW
    await service.review_fraud_result(database, ADMIN, row_id, ReviewDecision.CONFIRMED_FRAUD, now=NOW)
    entry = await reward(database, sid)
    assert entry.state is S.WITHHELD and entry.amount.amount == 0
    with pytest.raises(ConflictError, match="withheld"):
        async with database.transaction(ADMIN) as tx:
            await tx.rewards.settle([sid], "payout-1", ADMIN.user_id, NOW)


async def test_settlement_is_all_or_none_idempotent_and_final(database: Database, seeder: Seeder) -> None:
    store = await seeder.store()
    ready = [await seeder.call(store, unique_answers(), call_at=AFTERNOON) for _ in range(2)]
    waiting = await seeder.call(store, unique_answers(), call_at=AFTERNOON)
    for sid in ready:
        await asyncio.gather(
            service.assess_session(database, None, sid, now=NOW),
            service.check_fraud(database, None, sid, now=NOW),
        )
    await service.assess_session(database, None, waiting, now=NOW)
    paid_at = NOW + dt.timedelta(days=1)
    with pytest.raises(ConflictError, match="pending"):
        async with database.transaction(ADMIN) as tx:
            await tx.rewards.settle([*ready, waiting], "payout-A", ADMIN.user_id, paid_at)
    assert [(await reward(database, sid)).state for sid in ready] == [S.APPROVED] * 2  # nothing settled
    with pytest.raises(NotFoundError):
        async with database.transaction(ADMIN) as tx:
            await tx.rewards.settle([uuid.uuid4()], "payout-A", ADMIN.user_id, paid_at)
    async with database.transaction(ADMIN) as tx:
        paid = await tx.rewards.settle(ready, "payout-A", ADMIN.user_id, paid_at)
    assert [p.state for p in paid] == [S.PAID, S.PAID]
    assert all(p.paid_at == paid_at and p.settled_by == ADMIN.user_id for p in paid)
    async with database.transaction(ADMIN) as tx:  # a retried payout call is a no-op
        again = await tx.rewards.settle(ready, "payout-A", ADMIN.user_id, paid_at + dt.timedelta(hours=1))
    assert [a.paid_at for a in again] == [paid_at, paid_at]
    with pytest.raises(ConflictError, match="another settlement reference"):
        async with database.transaction(ADMIN) as tx:
            await tx.rewards.settle(ready[:1], "payout-B", ADMIN.user_id, paid_at)
    # fraud found after payment: the ledger keeps what was paid and flags it for a human
    async with database.transaction(Principal.service()) as tx:
        await tx.fraud.add_results(ready[0], [suspicious(CheckType.PATTERN, 0.95, review=False)])
    await service.assess_session(database, None, ready[0], now=paid_at)
    after = await reward(database, ready[0])
    assert after.state is S.PAID and after.amount == paid[0].amount
    assert (await ledger_audit(database, after.id))[-1] == "fraud found after the reward was paid"


async def test_store_owner_sees_totals_of_own_stores_only(database: Database, seeder: Seeder) -> None:
    store, other = await seeder.store(), await seeder.store()
    sids = [
        await seeder.call(store, unique_answers(), call_at=AFTERNOON, amount=Decimal(a))
        for a in ("100.00", "333.33")
    ]
    for sid in sids:
        await service.assess_session(database, None, sid, now=NOW)
    owner = Principal.store_owner(uuid.uuid4(), {store})
    since, until = NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=1)
    async with database.transaction(owner) as tx:
        totals = await tx.rewards.totals(store, since, until)
        assert (await tx.rewards.list(rec.RewardFilter(store_id=store))).items == []  # RLS: no rows
        with pytest.raises(NotFoundError):
            await tx.rewards.get_by_session(sids[0])
    entries = [await reward(database, sid) for sid in sids]
    assert totals == [rec.RewardTotal(S.PENDING, 2, entries[0].amount + entries[1].amount)]
    with pytest.raises(PermissionDeniedError):
        async with database.transaction(owner) as tx:
            await tx.rewards.totals(other, since, until)


async def test_store_currency_follows_into_the_ledger(database: Database, seeder: Seeder) -> None:
    store = await seeder.store(currency="EUR")
    sid = await seeder.call(store, unique_answers(), call_at=AFTERNOON, amount=Decimal("12.34"))
    await service.assess_session(database, None, sid, now=NOW)
    entry = await reward(database, sid)
    assert entry.purchase == Money.of("12.34", "EUR") and entry.amount.currency == "EUR"
    async with database.transaction(Principal.service()) as tx:
        record = await tx.stores.get_store(store)
    with pytest.raises(ConflictError, match="unpaid rewards"):
        async with database.transaction(Principal.service()) as tx:
            await tx.stores.upsert_store(store, record.business_id, record.name, currency="SEK")
