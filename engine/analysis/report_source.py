"""Lean read of a store's assessed calls for the weekly report.

The report needs four columns per call. ``AssessmentRepository.list_for_store``
returns whole records (decrypted summaries, three decoded JSONB columns, UUIDs)
and measured 2.0 s for 10,000 rows here, over the report's 2 s budget; this
query selects only the scores and the actionable items (as text, decoded by
msgspec straight into typed items) in the same transaction, so the principal's
row-level security still applies. If storage grows a report-shaped query, use it.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo

import msgspec
from sqlalchemy import Text, case, cast, func, select

from engine.analysis.models import ActionableItem
from engine.analysis.report import CallRecord, WeekPoint
from engine.analysis.scoring import round2
from storage import Tx
from storage.models import QualityAssessment
from storage.models.base import table_of

_C = table_of(QualityAssessment).c
_ITEMS = msgspec.json.Decoder(list[msgspec.Raw] | None)
_ITEM = msgspec.json.Decoder(ActionableItem)


async def calls_between(
    tx: Tx, store_id: uuid.UUID, since: dt.datetime, until: dt.datetime
) -> tuple[list[CallRecord], int]:
    """Assessed calls of a store with created_at in [since, until); also how many items were invalid."""
    stmt = (
        select(
            _C.overall_quality_score,
            _C.reward_percentage,
            _C.is_fraudulent,
            cast(_C.business_actionable_items, Text),
        )
        .where(_C.store_id == store_id, _C.created_at >= since, _C.created_at < until)
        .order_by(_C.created_at, _C.id)
    )
    out: list[CallRecord] = []
    bad = 0
    for overall, reward, fraudulent, items_text in await tx.session.execute(stmt):
        items: list[ActionableItem] = []
        raw_items = _ITEMS.decode(items_text) if items_text else None
        for raw in raw_items or []:
            try:
                items.append(_ITEM.decode(raw))
            except msgspec.ValidationError:
                bad += 1
        out.append(CallRecord(float(overall), float(reward), bool(fraudulent), items))
    return out, bad


async def weekly_series(
    tx: Tx, store_id: uuid.UUID, timezone: str, first_week: dt.date, before_week: dt.date
) -> list[WeekPoint]:
    """Per-week call counts and average quality (fraudulent calls excluded) from the assessments.

    Weeks are Mondays in the store's time zone, ``first_week`` ≤ week < ``before_week``; weeks
    without calls are absent. Computed from the rows, not from earlier reports, so the chart
    is right even when those weeks' reports were never built.
    """
    # created_at is UTC without a zone: make it a UTC instant first, then the store's local time.
    local = func.timezone(timezone, func.timezone("UTC", _C.created_at))
    week = func.date_trunc("week", local)
    honest = case((_C.is_fraudulent.is_(False), _C.overall_quality_score))
    start = dt.datetime.combine(first_week, dt.time(0), zoneinfo.ZoneInfo(timezone))
    end = dt.datetime.combine(before_week, dt.time(0), zoneinfo.ZoneInfo(timezone))
    stmt = (
        select(week, func.count(), func.sum(honest), func.count(honest))
        .where(_C.store_id == store_id, _C.created_at >= start, _C.created_at < end)
        .group_by(week)
        .order_by(week)
    )
    out: list[WeekPoint] = []
    for monday, count, total, honest_count in await tx.session.execute(stmt):
        avg = round2(float(total) / honest_count) if honest_count else None
        out.append(WeekPoint(monday.date(), int(count), avg))
    return out
