"""fraud_detection_results: admin/service only; store owners get aggregates via fraud_statistics()."""

from __future__ import annotations

import builtins
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, text, update

from engine.domain import CheckType, ReviewDecision
from engine.errors import NotFoundError, ValidationError
from storage.models import FeedbackCallSession, FraudDetectionResult
from storage.models.base import table_of
from storage.records import FraudFilter, FraudResult, FraudStatistics, Page
from storage.repositories._common import Repository, aware, page_size, score
from storage.repositories._sessions_ref import store_of_session
from storage.types import ForRow

_T = table_of(FraudDetectionResult)
_C = _T.c
_S = table_of(FeedbackCallSession).c
_STATS = text(
    "SELECT check_type, total, suspicious, manual_review, confirmed_fraud, false_positive "
    "FROM fraud_statistics(:store_id, :since, :until)"
)


def _record(r: Any) -> FraudResult:
    return FraudResult(
        check_type=CheckType(r.check_type),
        is_suspicious=r.is_suspicious,
        confidence_level=float(r.confidence_level),
        fraud_indicators=r.fraud_indicators,
        context_violations=r.context_violations,
        decision_reasoning=r.decision_reasoning,
        manual_review_required=bool(r.manual_review_required),
        reviewed_by=r.reviewed_by,
        review_decision=ReviewDecision(r.review_decision) if r.review_decision else None,
        id=r.id,
        call_session_id=r.call_session_id,
        created_at=r.created_at,
    )


class FraudRepository(Repository):
    async def add_results(
        self, session_id: uuid.UUID, results: Sequence[FraudResult], now: dt.datetime | None = None
    ) -> builtins.list[FraudResult]:
        """Insert one row per check (one statement), created at ``now`` (default: the tx clock)."""
        if not results:
            return []
        await store_of_session(self.tx, session_id)
        created = aware("now", now) if now is not None else self.tx.now()
        rows = []
        for result in results:
            row_id = uuid.uuid4()
            rows.append(
                {
                    "id": row_id,
                    "call_session_id": session_id,
                    "check_type": CheckType(result.check_type).value,
                    "is_suspicious": bool(result.is_suspicious),
                    "confidence_level": score("confidence_level", result.confidence_level),
                    "fraud_indicators": result.fraud_indicators,
                    "context_violations": result.context_violations,
                    "decision_reasoning": None
                    if result.decision_reasoning is None
                    else ForRow(row_id, result.decision_reasoning),
                    "manual_review_required": bool(result.manual_review_required),
                    "created_at": created,
                }
            )
        ids = [r["id"] for r in rows]
        await self.session.execute(insert(_T), rows)
        stored = await self.session.execute(select(*_T.c).where(_C.id.in_(ids)))
        by_id = {r.id: _record(r) for r in stored}
        self.tx.audit("write", "fraud_detection_results", session_id, f"{len(rows)} checks")
        return [by_id[i] for i in ids]

    async def list(
        self, flt: FraudFilter | None = None, page_size_: int = 50, page_token: str | None = None
    ) -> Page[FraudResult]:
        """Newest first, filtered; audited (fraud rows are sensitive)."""
        flt = flt or FraudFilter()
        size = page_size(page_size_)
        stmt = select(*_T.c)
        if flt.store_id is not None:
            stmt = stmt.where(_C.call_session_id.in_(select(_S.id).where(_S.store_id == flt.store_id)))
        if flt.call_session_id is not None:
            stmt = stmt.where(_C.call_session_id == flt.call_session_id)
        if flt.check_type is not None:
            stmt = stmt.where(_C.check_type == CheckType(flt.check_type).value)
        if flt.suspicious_only:
            stmt = stmt.where(_C.is_suspicious.is_(True))
        if flt.review_required_only:
            stmt = stmt.where(_C.manual_review_required.is_(True), _C.review_decision.is_(None))
        page = await self.newest_first(stmt, _C, _record, flt.since, flt.until, size, page_token)
        self.tx.audit("read", "fraud_detection_results", None, f"{len(page.items)} rows")
        return page

    async def review(
        self, result_id: uuid.UUID, decision: ReviewDecision, reviewer_id: uuid.UUID | None
    ) -> FraudResult:
        try:
            value = ReviewDecision(decision).value
        except ValueError as exc:
            raise ValidationError(
                "review_decision", "must be confirmed_fraud, false_positive or needs_investigation"
            ) from exc
        row = (
            await self.session.execute(
                update(_T)
                .where(_C.id == result_id)
                .values(review_decision=value, reviewed_by=reviewer_id)
                .returning(*_T.c)
            )
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"fraud result {result_id} not found")
        self.tx.audit("write", "fraud_detection_results", result_id, f"review {value}")
        return _record(row)

    async def statistics(
        self, store_id: uuid.UUID, since: dt.datetime, until: dt.datetime
    ) -> builtins.list[FraudStatistics]:
        """Aggregated per check type; allowed for the store's owner (SECURITY DEFINER function)."""
        params = {
            "store_id": store_id,
            "since": aware("since", since).astimezone(dt.UTC).replace(tzinfo=None),
            "until": aware("until", until).astimezone(dt.UTC).replace(tzinfo=None),
        }
        rows = await self.session.execute(_STATS, params)
        return [
            FraudStatistics(
                CheckType(r.check_type),
                r.total,
                r.suspicious,
                r.manual_review,
                r.confirmed_fraud,
                r.false_positive,
            )
            for r in rows
        ]
