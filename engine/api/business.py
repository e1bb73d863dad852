"""The business-output RPCs: the reward ledger, the list of weekly reports, a store's statistics.

A mixin of :class:`engine.api.servicer.CallEngineService` (same gate, database and
clock). Rights are checked here and again by row-level security: ledger entries
are admin/service only; store owners read their own stores' reward totals and
statistics (aggregates from SECURITY DEFINER functions) and reports.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from engine.api import business_args as a
from engine.api.auth import Caller
from engine.api.convert import _set, timestamp, weekly_report
from engine.api.gate import unary
from engine.api.gen import callengine_pb2 as pb
from engine.api.validation import CHECK_TYPE_TO_PB
from engine.domain import Role
from storage.database import Database
from storage.principal import Principal
from storage.records import RewardEntry, RewardFilter, RewardTotal, StoreStatistics

log = logging.getLogger("engine.api")
LEDGER_ROLES = (Role.ADMIN, Role.SERVICE)


def _principal(caller: Caller) -> Principal:
    return Principal(caller.user_id, caller.role, caller.store_ids)


def reward(rec: RewardEntry) -> pb.Reward:
    return _set(
        pb.Reward(
            reward_id=str(rec.id),
            session_id=str(rec.call_session_id),
            store_id=str(rec.store_id),
            assessment_id=str(rec.assessment_id),
            state=a.REWARD_STATE_TO_PB[rec.state],
            state_reason=rec.state_reason,
            purchase_amount=str(rec.purchase.amount),
            currency=rec.purchase.currency,
            reward_percentage=str(rec.reward_percentage),
            amount=str(rec.amount.amount),
            settlement_reference=rec.settlement_reference or "",
            settled_by=str(rec.settled_by or ""),
        ),
        created_at=timestamp(rec.created_at),
        updated_at=timestamp(rec.updated_at),
        paid_at=timestamp(rec.paid_at),
    )


def reward_total(t: RewardTotal) -> pb.RewardTotal:
    return pb.RewardTotal(
        state=a.REWARD_STATE_TO_PB[t.state],
        currency=t.amount.currency,
        entries=t.entries,
        amount=str(t.amount.amount),
    )


def store_statistics(s: StoreStatistics) -> pb.StoreStatistics:
    msg = _set(
        pb.StoreStatistics(
            store_id=str(s.store_id),
            calls_by_status=s.calls_by_status,
            assessed_calls=s.assessed_calls,
            fraudulent_calls=s.fraudulent_calls,
            fraud=[
                pb.FraudCheckStatistics(
                    check_type=CHECK_TYPE_TO_PB[f.check_type],
                    total=f.total,
                    suspicious=f.suspicious,
                    manual_review=f.manual_review,
                    confirmed_fraud=f.confirmed_fraud,
                    false_positive=f.false_positive,
                )
                for f in s.fraud
            ],
            rewards=[reward_total(t) for t in s.rewards],
        ),
        since=timestamp(s.since),
        until=timestamp(s.until),
    )
    if s.average_quality is not None:
        msg.average_quality = s.average_quality
    if s.average_reward_percentage is not None:
        msg.average_reward_percentage = s.average_reward_percentage
    for q in s.call_quality:
        row = msg.call_quality.add(connection_quality=q.connection_quality.value, calls=q.calls)
        if q.avg_latency_ms is not None:
            row.avg_latency_ms = q.avg_latency_ms
        if q.avg_packet_loss is not None:
            row.avg_packet_loss_percentage = q.avg_packet_loss
    return msg


class BusinessRpcs:
    """ListRewards, SettleRewards, GetRewardTotals, ListWeeklyReports, GetStoreStatistics."""

    db: Database
    clock: Callable[[], dt.datetime]

    @unary
    async def ListRewards(self, request: pb.ListRewardsRequest, caller: Caller) -> pb.ListRewardsResponse:
        caller.require_role(*LEDGER_ROLES)
        args = a.parse_list_rewards(request)
        flt = RewardFilter(args.store_id, args.state, args.created_after, args.created_before)
        async with self.db.transaction(_principal(caller)) as tx:
            page = await tx.rewards.list(flt, args.page_size, args.page_token)
        return pb.ListRewardsResponse(
            rewards=[reward(r) for r in page.items], next_page_token=page.next_page_token or ""
        )

    @unary
    async def SettleRewards(
        self, request: pb.SettleRewardsRequest, caller: Caller
    ) -> pb.SettleRewardsResponse:
        caller.require_role(*LEDGER_ROLES)
        args = a.parse_settle(request)
        async with self.db.transaction(_principal(caller)) as tx:
            settled = await tx.rewards.settle(args.session_ids, args.reference, caller.user_id, self.clock())
        log.info("rewards settled entries=%d", len(settled))
        return pb.SettleRewardsResponse(rewards=[reward(r) for r in settled])

    @unary
    async def GetRewardTotals(self, request: pb.GetRewardTotalsRequest, caller: Caller) -> pb.RewardTotals:
        args = a.parse_period(request, self.clock())
        caller.require_store(args.store_id)
        async with self.db.transaction(_principal(caller)) as tx:
            await tx.stores.get_store(args.store_id)  # NOT_FOUND for an unknown store
            totals = await tx.rewards.totals(args.store_id, args.since, args.until)
        return _set(
            pb.RewardTotals(store_id=str(args.store_id), totals=[reward_total(t) for t in totals]),
            since=timestamp(args.since),
            until=timestamp(args.until),
        )

    @unary
    async def ListWeeklyReports(
        self, request: pb.ListWeeklyReportsRequest, caller: Caller
    ) -> pb.ListWeeklyReportsResponse:
        args = a.parse_list_reports(request)
        caller.require_store(args.store_id)
        async with self.db.transaction(_principal(caller)) as tx:
            page = await tx.reports.page(
                args.store_id, args.from_week, args.to_week, args.page_size, args.page_token
            )
        return pb.ListWeeklyReportsResponse(
            reports=[weekly_report(r) for r in page.items], next_page_token=page.next_page_token or ""
        )

    @unary
    async def GetStoreStatistics(
        self, request: pb.GetStoreStatisticsRequest, caller: Caller
    ) -> pb.StoreStatistics:
        args = a.parse_period(request, self.clock())
        caller.require_store(args.store_id)
        async with self.db.transaction(_principal(caller)) as tx:
            await tx.stores.get_store(args.store_id)
            stats = await tx.statistics.store(args.store_id, args.since, args.until)
        return store_statistics(stats)
