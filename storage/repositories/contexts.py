"""business_context_profiles: append-only versions per store; the highest version is current."""

from __future__ import annotations

import builtins
import datetime as dt
import uuid
from typing import Any

from sqlalchemy import func, insert, select

from engine.errors import ConflictError, NotFoundError, ValidationError
from storage.models import BusinessContextProfile
from storage.models.base import table_of
from storage.records import BusinessContext
from storage.repositories._common import Repository, as_float, aware, score

_T = table_of(BusinessContextProfile)
_C = _T.c
_REQUIRED = ("operating_hours", "departments", "question_configuration", "baseline_facts")


def _record(r: Any) -> BusinessContext:
    return BusinessContext(
        store_id=r.store_id,
        operating_hours=r.operating_hours,
        departments=r.departments,
        question_configuration=r.question_configuration,
        baseline_facts=r.baseline_facts,
        current_campaigns=r.current_campaigns,
        context_completeness_score=as_float(r.context_completeness_score),
        context_version=r.context_version,
        id=r.id,
        last_updated_at=r.last_updated_at,
        updated_by=r.updated_by,
    )


class BusinessContextRepository(Repository):
    async def put_new_version(
        self,
        context: BusinessContext,
        *,
        expected_version: int | None = None,
        now: dt.datetime | None = None,
    ) -> BusinessContext:
        """Insert the next version (current + 1). With ``expected_version``, ConflictError if stale.

        Two concurrent writers cannot both create the same version: the unique
        (store_id, context_version) index rejects the second (ConflictError; re-read and retry).
        """
        for name in _REQUIRED:
            value = getattr(context, name)
            if not isinstance(value, dict | list):
                raise ValidationError(name, "must be a JSON object or array")
        current = (
            await self.session.execute(
                select(func.max(_C.context_version)).where(_C.store_id == context.store_id)
            )
        ).scalar() or 0
        if expected_version is not None and expected_version != current:
            raise ConflictError(f"business context is at version {current}, expected {expected_version}")
        row_id = uuid.uuid4()
        values: dict[str, Any] = {
            "id": row_id,
            "store_id": context.store_id,
            "context_version": current + 1,
            "operating_hours": context.operating_hours,
            "departments": context.departments,
            "current_campaigns": context.current_campaigns,
            "question_configuration": context.question_configuration,
            "baseline_facts": context.baseline_facts,
            "updated_by": context.updated_by,
        }
        completeness = score("context_completeness_score", context.context_completeness_score)
        if completeness is not None:
            values["context_completeness_score"] = completeness
        values["last_updated_at"] = aware("now", now) if now is not None else self.tx.now()
        await self.session.execute(insert(_T).values(**values))
        # read back via SELECT (store owners may INSERT but RETURNING would need the row visible first)
        row = (await self.session.execute(select(*_T.c).where(_C.id == row_id))).one()
        self.tx.audit("write", "business_context_profiles", row_id, f"version {current + 1}")
        return _record(row)

    async def get_current(self, store_id: uuid.UUID) -> BusinessContext:
        row = (
            await self.session.execute(
                select(*_T.c).where(_C.store_id == store_id).order_by(_C.context_version.desc()).limit(1)
            )
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"no business context for store {store_id}")
        return _record(row)

    async def history(self, store_id: uuid.UUID) -> builtins.list[BusinessContext]:
        """All versions, newest first."""
        rows = await self.session.execute(
            select(*_T.c).where(_C.store_id == store_id).order_by(_C.context_version.desc())
        )
        return [_record(r) for r in rows]
