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

import msgspec
from sqlalchemy import Text, cast, select

from engine.analysis.models import ActionableItem
from engine.analysis.report import CallRecord
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
