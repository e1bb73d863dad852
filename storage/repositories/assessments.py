"""quality_assessments: one per session (a re-analysis replaces it); summary encrypted.

Every store that changes what a backend sees (the scores, the reward percentage, the
fraud flag) emits ``assessment.stored`` in the same transaction; a re-run that comes
to the same result emits nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import insert, select, update

from engine.errors import NotFoundError, ValidationError
from engine.events.types import ASSESSMENT_STORED
from storage.models import FeedbackCallSession, QualityAssessment
from storage.models.base import table_of
from storage.records import Assessment
from storage.repositories._common import Repository, aware, score
from storage.types import ForRow

_T = table_of(QualityAssessment)
_C = _T.c
_S_T = table_of(FeedbackCallSession)
_S = _S_T.c


def _record(r: Any) -> Assessment:
    return Assessment(
        call_session_id=r.call_session_id,
        legitimacy_score=float(r.legitimacy_score),
        depth_score=float(r.depth_score),
        usefulness_score=float(r.usefulness_score),
        overall_quality_score=float(r.overall_quality_score),
        reward_percentage=float(r.reward_percentage),
        is_fraudulent=bool(r.is_fraudulent),
        fraud_reasons=r.fraud_reasons,
        analysis_summary=r.analysis_summary,
        business_actionable_items=r.business_actionable_items,
        analysis_metadata=r.analysis_metadata,
        id=r.id,
        store_id=r.store_id,
        created_at=r.created_at,
        anonymized_at=r.anonymized_at,
    )


_VISIBLE = (
    "legitimacy_score",
    "depth_score",
    "usefulness_score",
    "overall_quality_score",
    "reward_percentage",
    "is_fraudulent",
)
"""What a backend is told about (assessment.stored); the summary and metadata are not sent."""


def _event_payload(row: Any) -> dict[str, Any]:
    meta = row.analysis_metadata if isinstance(row.analysis_metadata, dict) else {}
    return {
        "session_id": str(row.call_session_id),
        "assessment_id": str(row.id),
        "store_id": str(row.store_id),
        **{name: float(getattr(row, name)) for name in _VISIBLE if name != "is_fraudulent"},
        "is_fraudulent": bool(row.is_fraudulent),
        "rules_only": bool(meta.get("rules_only", False)),
        "status": meta.get("status"),
    }


class AssessmentRepository(Repository):
    async def put(self, assessment: Assessment, now: dt.datetime | None = None) -> Assessment:
        """Store the session's assessment, replacing an earlier one (same row id).

        ``now`` (default: the transaction's clock) is the creation time of a first assessment,
        which decides the report week the call belongs to; a replacement keeps it.
        """
        a = assessment
        if a.analysis_summary is not None and not isinstance(a.analysis_summary, str):
            raise ValidationError("analysis_summary", "must be text")
        # One round trip for the store, the row id (the summary's encryption is bound to the row
        # id, so it must be known before the write) and what a backend saw; one for the write.
        before = (
            await self.session.execute(
                select(_S.store_id, _C.id, *(_C[n] for n in _VISIBLE))
                .select_from(_S_T.outerjoin(_T, _C.call_session_id == _S.id))
                .where(_S.id == a.call_session_id)
            )
        ).one_or_none()
        if before is None:
            raise NotFoundError(f"call session {a.call_session_id} not found")
        store_id, existing = before.store_id, before.id
        row_id = existing or uuid.uuid4()
        values: dict[str, Any] = {
            "legitimacy_score": score("legitimacy_score", a.legitimacy_score),
            "depth_score": score("depth_score", a.depth_score),
            "usefulness_score": score("usefulness_score", a.usefulness_score),
            "overall_quality_score": score("overall_quality_score", a.overall_quality_score),
            "reward_percentage": score("reward_percentage", a.reward_percentage, 2.0, 15.0),
            "is_fraudulent": bool(a.is_fraudulent),
            "fraud_reasons": a.fraud_reasons,
            "analysis_summary": None if a.analysis_summary is None else ForRow(row_id, a.analysis_summary),
            "business_actionable_items": a.business_actionable_items,
            "analysis_metadata": a.analysis_metadata,
            "anonymized_at": None,
        }
        if existing:
            stmt: Any = update(_T).where(_C.id == row_id).values(**values)
        else:
            stmt = insert(_T).values(
                id=row_id,
                call_session_id=a.call_session_id,
                store_id=store_id,
                created_at=aware("now", now) if now is not None else self.tx.now(),
                **values,
            )
        row = (await self.session.execute(stmt.returning(*_T.c))).one()
        self.tx.audit("write", "quality_assessments", row_id)
        if existing is None or any(getattr(before, n) != getattr(row, n) for n in _VISIBLE):
            await self.tx.events.emit(
                ASSESSMENT_STORED, row.store_id, str(row.call_session_id), _event_payload(row), now
            )
        return _record(row)

    async def get_by_session(self, session_id: uuid.UUID) -> Assessment:
        row = (
            await self.session.execute(select(*_T.c).where(_C.call_session_id == session_id))
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"no assessment for call session {session_id}")
        self.tx.audit("read", "quality_assessments", row.id)
        return _record(row)

    async def list_for_store(
        self, store_id: uuid.UUID, since: dt.datetime | None = None, until: dt.datetime | None = None
    ) -> list[Assessment]:
        """Assessments of a store (created_at in [since, until)), oldest first — for weekly reports."""
        stmt = select(*_T.c).where(_C.store_id == store_id)
        if since is not None:
            stmt = stmt.where(_C.created_at >= since)
        if until is not None:
            stmt = stmt.where(_C.created_at < until)
        rows = (await self.session.execute(stmt.order_by(_C.created_at, _C.id))).all()
        return [_record(r) for r in rows]
