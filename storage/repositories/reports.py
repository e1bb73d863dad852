"""weekly_analysis_reports: one per store and week (Monday); a rebuild replaces it. Kept forever."""

from __future__ import annotations

import builtins
import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from engine.errors import NotFoundError, ValidationError
from engine.events.types import REPORT_READY
from storage.models import WeeklyAnalysisReport
from storage.models.base import table_of
from storage.records import Page, WeeklyReport
from storage.repositories._common import Repository, as_float, aware, decode_token, encode_token, score

_T = table_of(WeeklyAnalysisReport)
_C = _T.c
_JSON_FIELDS = (
    "positive_trends",
    "negative_issues",
    "new_issues",
    "department_insights",
    "historical_comparison",
    "predictive_insights",
    "actionable_recommendations",
    "report_metadata",
)


def _record(r: Any) -> WeeklyReport:
    return WeeklyReport(
        store_id=r.store_id,
        analysis_week=r.analysis_week,
        total_feedback_count=r.total_feedback_count,
        average_quality_score=as_float(r.average_quality_score),
        **{f: getattr(r, f) for f in _JSON_FIELDS},
        id=r.id,
        generated_at=r.generated_at,
    )


class WeeklyReportRepository(Repository):
    async def upsert(self, report: WeeklyReport, generated_at: dt.datetime | None = None) -> WeeklyReport:
        """Store (or replace) the week's report, generated at ``generated_at`` (default: the tx clock).

        Emits ``report.ready`` in the same transaction.
        """
        if not isinstance(report.analysis_week, dt.date) or report.analysis_week.isoweekday() != 1:
            raise ValidationError("analysis_week", "must be the Monday of the week")
        if report.total_feedback_count < 0:
            raise ValidationError("total_feedback_count", "must be >= 0")
        values: dict[str, Any] = {
            "total_feedback_count": report.total_feedback_count,
            "average_quality_score": score("average_quality_score", report.average_quality_score),
            **{f: getattr(report, f) for f in _JSON_FIELDS},
        }
        values["generated_at"] = aware("generated_at", generated_at) if generated_at else self.tx.now()
        base = insert(_T).values(
            id=uuid.uuid4(), store_id=report.store_id, analysis_week=report.analysis_week, **values
        )
        stmt = base.on_conflict_do_update(
            index_elements=["store_id", "analysis_week"], set_=values
        ).returning(*_T.c)
        row = (await self.session.execute(stmt)).one()
        self.tx.audit("write", "weekly_analysis_reports", row.id)
        week = row.analysis_week.isoformat()
        await self.tx.events.emit(
            REPORT_READY,
            row.store_id,
            f"{row.store_id}:{week}",
            {
                "report_id": str(row.id),
                "store_id": str(row.store_id),
                "analysis_week": week,
                "total_feedback_count": int(row.total_feedback_count),
                "average_quality_score": as_float(row.average_quality_score),
            },
            values["generated_at"],
        )
        return _record(row)

    async def get(self, store_id: uuid.UUID, week: dt.date) -> WeeklyReport:
        row = (
            await self.session.execute(select(*_T.c).where(_C.store_id == store_id, _C.analysis_week == week))
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"no weekly report for store {store_id} week {week}")
        return _record(row)

    async def list(self, store_id: uuid.UUID, limit: int = 52) -> builtins.list[WeeklyReport]:
        """Newest week first."""
        rows = await self.session.execute(
            select(*_T.c).where(_C.store_id == store_id).order_by(_C.analysis_week.desc()).limit(limit)
        )
        return [_record(r) for r in rows]

    async def page(
        self,
        store_id: uuid.UUID,
        from_week: dt.date | None = None,
        to_week: dt.date | None = None,
        page_size_: int = 12,
        page_token: str | None = None,
    ) -> Page[WeeklyReport]:
        """Newest week first, weeks within [from_week, to_week] (Mondays; None = unbounded)."""
        if not 1 <= page_size_ <= 52:
            raise ValidationError("page_size", "must be within 1–52")
        stmt = select(*_T.c).where(_C.store_id == store_id)
        if from_week is not None:
            stmt = stmt.where(_C.analysis_week >= from_week)
        if to_week is not None:
            stmt = stmt.where(_C.analysis_week <= to_week)
        if page_token:
            at, _ = decode_token(page_token)
            stmt = stmt.where(_C.analysis_week < at.date())
        rows = (
            await self.session.execute(stmt.order_by(_C.analysis_week.desc()).limit(page_size_ + 1))
        ).all()
        items = [_record(r) for r in rows[:page_size_]]
        token = None
        if len(rows) > page_size_ and items[-1].id is not None:
            last = dt.datetime.combine(items[-1].analysis_week, dt.time(0), dt.UTC)
            token = encode_token(last, items[-1].id)
        return Page(items, token)
