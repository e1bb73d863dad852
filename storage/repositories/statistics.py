"""A store's aggregated statistics for business users: counts and averages, never a call's details.

Sessions and assessments are read under the caller's row-level security (a store
owner sees their own stores' rows); fraud, call-quality and reward figures come
from the SECURITY DEFINER functions that return aggregates only.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, select

from storage.models import FeedbackCallSession, QualityAssessment
from storage.models.base import table_of
from storage.records import StoreStatistics
from storage.repositories._common import Repository, aware

_S = table_of(FeedbackCallSession).c
_QA = table_of(QualityAssessment).c


class StatisticsRepository(Repository):
    async def store(self, store_id: uuid.UUID, since: dt.datetime, until: dt.datetime) -> StoreStatistics:
        """Figures for calls created (and assessments, fraud checks, rewards made) in [since, until)."""
        since, until = aware("since", since), aware("until", until)
        by_status = await self.session.execute(
            select(_S.session_status, func.count())
            .where(_S.store_id == store_id, _S.created_at >= since, _S.created_at < until)
            .group_by(_S.session_status)
        )
        honest = _QA.is_fraudulent.is_not(True)
        assessed = (
            await self.session.execute(
                select(
                    func.count(),
                    func.avg(_QA.overall_quality_score).filter(honest),
                    func.avg(_QA.reward_percentage).filter(honest),
                    func.count().filter(_QA.is_fraudulent.is_(True)),
                ).where(_QA.store_id == store_id, _QA.created_at >= since, _QA.created_at < until)
            )
        ).one()
        count, avg_quality, avg_reward, fraudulent = assessed
        return StoreStatistics(
            store_id=store_id,
            since=since,
            until=until,
            calls_by_status={status: int(n) for status, n in by_status},
            assessed_calls=int(count),
            average_quality=None if avg_quality is None else round(float(avg_quality), 2),
            average_reward_percentage=None if avg_reward is None else round(float(avg_reward), 2),
            fraudulent_calls=int(fraudulent),
            fraud=await self.tx.fraud.statistics(store_id, since, until),
            call_quality=await self.tx.metrics.statistics(store_id, since, until),
            rewards=await self.tx.rewards.totals(store_id, since, until),
        )
