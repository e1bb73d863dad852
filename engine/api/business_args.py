"""Request validation for the business-output RPCs (rewards, report lists, store statistics).

Same rules as :mod:`engine.api.validation`: every field checked before anything
runs, one INVALID_ARGUMENT naming every offending field.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid

from engine.api.gen import callengine_pb2 as pb
from engine.api.validation import Checker
from engine.rewards.ledger import RewardState
from engine.rewards.money import MINOR_UNIT_DIGITS

REWARD_STATE_TO_PB: dict[RewardState, pb.RewardState] = {
    RewardState.PENDING: pb.REWARD_STATE_PENDING,
    RewardState.UNDER_REVIEW: pb.REWARD_STATE_UNDER_REVIEW,
    RewardState.APPROVED: pb.REWARD_STATE_APPROVED,
    RewardState.WITHHELD: pb.REWARD_STATE_WITHHELD,
    RewardState.PAID: pb.REWARD_STATE_PAID,
}
REWARD_STATE_FROM_PB = {v: k for k, v in REWARD_STATE_TO_PB.items()}
_REFERENCE_RE = re.compile(r"^[\x21-\x7e]{1,100}$")
MAX_SETTLE = 500
MAX_PERIOD = dt.timedelta(days=366)
DEFAULT_PERIOD = dt.timedelta(days=7)
DEFAULT_REPORT_PAGE = 12
MAX_REPORT_PAGE = 52


@dataclasses.dataclass(frozen=True)
class ListRewardsArgs:
    store_id: uuid.UUID | None
    state: RewardState | None
    created_after: dt.datetime | None
    created_before: dt.datetime | None
    page_size: int
    page_token: str | None


def parse_list_rewards(req: pb.ListRewardsRequest) -> ListRewardsArgs:
    c = Checker()
    store_id = c.uuid("store_id", req.store_id, required=False)
    state = c.enum("state", req.state, REWARD_STATE_FROM_PB, required=False)
    after = c.timestamp("created_after", req, "created_after")
    before = c.timestamp("created_before", req, "created_before")
    if after and before and after >= before:
        c.fail("created_before", "must be later than created_after")
    size = c.page_size("page_size", req.page_size)
    cursor = c.page_token("page_token", req.page_token)
    c.done()
    return ListRewardsArgs(store_id, state, after, before, size, cursor)


@dataclasses.dataclass(frozen=True)
class SettleArgs:
    session_ids: list[uuid.UUID]
    reference: str


def parse_settle(req: pb.SettleRewardsRequest) -> SettleArgs:
    c = Checker()
    ids: list[uuid.UUID] = []
    if not 1 <= len(req.session_ids) <= MAX_SETTLE:
        c.fail("session_ids", f"1-{MAX_SETTLE} session ids")
    else:
        for i, raw in enumerate(req.session_ids):
            sid = c.uuid(f"session_ids[{i}]", raw)
            if sid is not None:
                ids.append(sid)
    if not _REFERENCE_RE.fullmatch(req.settlement_reference):
        c.fail("settlement_reference", "required: 1-100 printable ASCII characters, no spaces")
    c.done()
    return SettleArgs(list(dict.fromkeys(ids)), req.settlement_reference)


@dataclasses.dataclass(frozen=True)
class PeriodArgs:
    store_id: uuid.UUID
    since: dt.datetime
    until: dt.datetime


def parse_period(
    req: pb.GetRewardTotalsRequest | pb.GetStoreStatisticsRequest, now: dt.datetime
) -> PeriodArgs:
    c = Checker()
    store_id = c.uuid("store_id", req.store_id)
    since = c.timestamp("since", req, "since")
    until = c.timestamp("until", req, "until") or now
    since = since or until - DEFAULT_PERIOD
    if since >= until:
        c.fail("until", "must be later than since")
    elif until - since > MAX_PERIOD:
        c.fail("since", "the period may span at most 366 days")
    c.done()
    assert store_id
    return PeriodArgs(store_id, since, until)


@dataclasses.dataclass(frozen=True)
class ListReportsArgs:
    store_id: uuid.UUID
    from_week: dt.date | None
    to_week: dt.date | None
    page_size: int
    page_token: str | None


def parse_list_reports(req: pb.ListWeeklyReportsRequest) -> ListReportsArgs:
    c = Checker()
    store_id = c.uuid("store_id", req.store_id)
    from_week = c.week("from_week", req.from_week) if req.from_week else None
    to_week = c.week("to_week", req.to_week) if req.to_week else None
    if from_week and to_week and from_week > to_week:
        c.fail("to_week", "must not be before from_week")
    size = req.page_size or DEFAULT_REPORT_PAGE
    if not 1 <= size <= MAX_REPORT_PAGE:
        c.fail("page_size", f"must be within 1..{MAX_REPORT_PAGE} (0 means {DEFAULT_REPORT_PAGE})")
    cursor = c.page_token("page_token", req.page_token)
    c.done()
    assert store_id
    return ListReportsArgs(store_id, from_week, to_week, size, cursor)


def parse_currency(c: Checker, value: str) -> str | None:
    """PutStoreRequest.currency: empty keeps the stored one."""
    if not value:
        return None
    if value not in MINOR_UNIT_DIGITS:
        c.fail("currency", f"must be one of {', '.join(sorted(MINOR_UNIT_DIGITS))}")
        return None
    return value
