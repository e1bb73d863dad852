"""Rewards, report lists and store statistics through the API (real PostgreSQL, real gRPC)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import grpc
import pytest
import pytest_asyncio

from engine.analysis import service
from engine.api.gen import callengine_pb2 as pb
from engine.api.status import field_violations
from engine.domain import CheckType, Role
from engine.rewards.money import Money, percentage_of
from storage.principal import Principal
from storage.records import FraudResult, WeeklyReport
from tests.integration.api.conftest import Env

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(120)]

BUSINESS = uuid.uuid4()
STORE = uuid.uuid4()
OTHER = uuid.uuid4()


async def _code(call: object) -> grpc.StatusCode:
    try:
        await call  # type: ignore[misc]
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


async def _violations(call: object) -> list[str]:
    try:
        await call  # type: ignore[misc]
    except grpc.aio.AioRpcError as exc:
        assert exc.code() is grpc.StatusCode.INVALID_ARGUMENT
        return [f for f, _ in field_violations(exc.trailing_metadata())]
    raise AssertionError("request was accepted")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def assessed(env: Env) -> uuid.UUID:
    """A dispatched call of STORE, assessed and fraud-checked clear: an approved reward."""
    svc = env.token(Role.SERVICE)
    for store, currency in ((STORE, "SEK"), (OTHER, "EUR")):
        out = await env.stub.PutStore(
            pb.PutStoreRequest(
                store_id=str(store), business_id=str(BUSINESS), name="S", business_name="B", currency=currency
            ),
            metadata=svc,
        )
        assert out.currency == currency
    vid = uuid.uuid4()
    req = pb.PutVerificationRequest(
        customer_verification_id=str(vid),
        store_id=str(STORE),
        phone_number="+46701112233",
        purchase_amount="249.50",
    )
    req.purchase_time.FromDatetime(dt.datetime.now(dt.UTC))
    await env.stub.PutVerification(req, metadata=svc)
    out = await env.stub.DispatchCall(
        pb.DispatchCallRequest(
            customer_verification_id=str(vid), store_id=str(STORE), phone_number="+46701112233"
        ),
        metadata=svc,
    )
    sid = uuid.UUID(out.session_id)
    async with env.db.transaction(Principal.service()) as tx:
        await tx.fraud.add_results(sid, [FraudResult(c, False, 0.1) for c in CheckType])
    await service.assess_session(env.db, None, sid)  # stores the assessment and folds the clear verdict
    return sid


async def test_put_store_currency_is_validated(env: Env, assessed: uuid.UUID) -> None:
    bad = pb.PutStoreRequest(store_id=str(STORE), business_id=str(BUSINESS), name="S", currency="KRONOR")
    assert await _violations(env.stub.PutStore(bad, metadata=env.token(Role.SERVICE))) == ["currency"]


async def test_rewards_are_listed_and_settled_by_the_service(env: Env, assessed: uuid.UUID) -> None:
    svc, owner = env.token(Role.SERVICE), env.token(Role.STORE_OWNER, STORE)
    listing = pb.ListRewardsRequest(store_id=str(STORE))
    assert await _code(env.stub.ListRewards(listing, metadata=owner)) is grpc.StatusCode.PERMISSION_DENIED
    page = await env.stub.ListRewards(listing, metadata=svc)
    assert [r.session_id for r in page.rewards] == [str(assessed)]
    entry = page.rewards[0]
    expected = percentage_of(Money.of("249.50"), Decimal(entry.reward_percentage))
    assert entry.state == pb.REWARD_STATE_APPROVED and entry.state_reason == "fraud_checks_clear"
    assert (entry.purchase_amount, entry.currency, entry.amount) == ("249.50", "SEK", str(expected.amount))
    assert Decimal("2") <= Decimal(entry.reward_percentage) <= Decimal("15")
    only_paid = pb.ListRewardsRequest(store_id=str(STORE), state=pb.REWARD_STATE_PAID)
    assert not (await env.stub.ListRewards(only_paid, metadata=svc)).rewards

    settle = pb.SettleRewardsRequest(session_ids=[str(assessed)], settlement_reference="payout-2026-47")
    assert await _code(env.stub.SettleRewards(settle, metadata=owner)) is grpc.StatusCode.PERMISSION_DENIED
    paid = await env.stub.SettleRewards(settle, metadata=svc)
    assert paid.rewards[0].state == pb.REWARD_STATE_PAID and paid.rewards[0].HasField("paid_at")
    again = await env.stub.SettleRewards(settle, metadata=svc)  # a retried payout
    assert again.rewards[0].paid_at == paid.rewards[0].paid_at
    other_ref = pb.SettleRewardsRequest(session_ids=[str(assessed)], settlement_reference="payout-2026-48")
    assert await _code(env.stub.SettleRewards(other_ref, metadata=svc)) is grpc.StatusCode.ABORTED
    unknown = pb.SettleRewardsRequest(session_ids=[str(uuid.uuid4())], settlement_reference="x")
    assert await _code(env.stub.SettleRewards(unknown, metadata=svc)) is grpc.StatusCode.NOT_FOUND
    bad = pb.SettleRewardsRequest(session_ids=["nope"], settlement_reference="with space")
    assert sorted(await _violations(env.stub.SettleRewards(bad, metadata=svc))) == [
        "session_ids[0]",
        "settlement_reference",
    ]
    assert await _violations(env.stub.SettleRewards(pb.SettleRewardsRequest(), metadata=svc)) == [
        "session_ids",
        "settlement_reference",
    ]


async def test_owner_reads_totals_and_statistics_of_own_stores_only(env: Env, assessed: uuid.UUID) -> None:
    owner, stranger = env.token(Role.STORE_OWNER, STORE), env.token(Role.STORE_OWNER, OTHER)
    totals = await env.stub.GetRewardTotals(pb.GetRewardTotalsRequest(store_id=str(STORE)), metadata=owner)
    assert len(totals.totals) == 1 and totals.totals[0].entries == 1 and totals.totals[0].currency == "SEK"
    assert Decimal(totals.totals[0].amount) > 0
    assert (totals.until.ToDatetime() - totals.since.ToDatetime()) == dt.timedelta(days=7)
    denied = env.stub.GetRewardTotals(pb.GetRewardTotalsRequest(store_id=str(STORE)), metadata=stranger)
    assert await _code(denied) is grpc.StatusCode.PERMISSION_DENIED

    stats = await env.stub.GetStoreStatistics(
        pb.GetStoreStatisticsRequest(store_id=str(STORE)), metadata=owner
    )
    assert dict(stats.calls_by_status) == {"pending": 1} and stats.assessed_calls == 1
    assert stats.fraudulent_calls == 0 and stats.HasField("average_reward_percentage")
    assert sorted(f.check_type for f in stats.fraud) == sorted(
        [pb.CHECK_TYPE_TIMING, pb.CHECK_TYPE_CONTENT, pb.CHECK_TYPE_CONTEXT, pb.CHECK_TYPE_PATTERN]
    )
    assert all(f.total == 1 and f.suspicious == 0 for f in stats.fraud)
    assert [(r.entries, r.currency) for r in stats.rewards] == [(1, "SEK")]
    empty = await env.stub.GetStoreStatistics(
        pb.GetStoreStatisticsRequest(store_id=str(OTHER)), metadata=stranger
    )
    assert empty.assessed_calls == 0 and not empty.HasField("average_quality") and not empty.rewards
    assert (
        await _code(
            env.stub.GetStoreStatistics(pb.GetStoreStatisticsRequest(store_id=str(STORE)), metadata=stranger)
        )
        is grpc.StatusCode.PERMISSION_DENIED
    )
    unknown = pb.GetStoreStatisticsRequest(store_id=str(uuid.uuid4()))
    assert await _code(env.stub.GetStoreStatistics(unknown, metadata=env.token(Role.ADMIN))) is (
        grpc.StatusCode.NOT_FOUND
    )
    backwards = pb.GetStoreStatisticsRequest(store_id=str(STORE))
    backwards.since.FromDatetime(dt.datetime(2026, 2, 1, tzinfo=dt.UTC))
    backwards.until.FromDatetime(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert await _violations(env.stub.GetStoreStatistics(backwards, metadata=owner)) == ["until"]


async def test_weekly_reports_are_listed_newest_first_in_pages(env: Env, assessed: uuid.UUID) -> None:
    monday = dt.date(2026, 11, 2)
    weeks = [monday + dt.timedelta(days=7 * i) for i in range(3)]
    async with env.db.transaction(Principal.service()) as tx:
        for i, week in enumerate(weeks):
            await tx.reports.upsert(WeeklyReport(store_id=STORE, analysis_week=week, total_feedback_count=i))
    owner = env.token(Role.STORE_OWNER, STORE)
    first = await env.stub.ListWeeklyReports(
        pb.ListWeeklyReportsRequest(store_id=str(STORE), page_size=2, to_week="2026-11-22"), metadata=owner
    )
    assert [r.analysis_week for r in first.reports] == ["2026-11-16", "2026-11-09"] and first.next_page_token
    rest = await env.stub.ListWeeklyReports(
        pb.ListWeeklyReportsRequest(
            store_id=str(STORE), page_size=2, to_week="2026-11-22", page_token=first.next_page_token
        ),
        metadata=owner,
    )
    assert [r.analysis_week for r in rest.reports] == ["2026-11-02"] and not rest.next_page_token
    since = await env.stub.ListWeeklyReports(
        pb.ListWeeklyReportsRequest(store_id=str(STORE), from_week="2026-11-11", to_week="2026-11-22"),
        metadata=owner,
    )
    assert [r.total_feedback_count for r in since.reports] == [2, 1]  # 2026-11-11 is in the week of the 9th
    stranger = env.token(Role.STORE_OWNER, OTHER)
    listing = pb.ListWeeklyReportsRequest(store_id=str(STORE))
    assert (
        await _code(env.stub.ListWeeklyReports(listing, metadata=stranger))
        is grpc.StatusCode.PERMISSION_DENIED
    )
    bad = pb.ListWeeklyReportsRequest(
        store_id=str(STORE), from_week="2026-11-30", to_week="2026-11-01", page_size=99
    )
    assert sorted(await _violations(env.stub.ListWeeklyReports(bad, metadata=owner))) == [
        "page_size",
        "to_week",
    ]
