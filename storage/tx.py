"""``Tx``: one transaction for one principal, with the repositories bound to it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from engine.clock import Clock, SystemClock
from storage.crypto import BlindIndex, KeyRing
from storage.principal import Principal

if TYPE_CHECKING:
    from storage.repositories.assessments import AssessmentRepository
    from storage.repositories.contexts import BusinessContextRepository
    from storage.repositories.events import EventRepository
    from storage.repositories.fraud import FraudRepository
    from storage.repositories.interviews import InterviewRepository
    from storage.repositories.jobs import JobRepository
    from storage.repositories.metrics import CallMetricsRepository
    from storage.repositories.optouts import OptOutRepository
    from storage.repositories.reports import WeeklyReportRepository
    from storage.repositories.rewards import RewardRepository
    from storage.repositories.sessions import SessionRepository
    from storage.repositories.statistics import StatisticsRepository
    from storage.repositories.stores import StoreRepository
    from storage.repositories.transcripts import TranscriptRepository


# Plain SQL: no RETURNING (the app role may append to audit_log but not read it back).
_INSERT_AUDIT = text(
    "INSERT INTO audit_log (at, actor_id, actor_role, action, table_name, record_id, detail) "
    "VALUES (:at, :actor_id, :actor_role, :action, :table_name, :record_id, :detail)"
)


@dataclasses.dataclass(frozen=True)
class EventSinks:
    """Where emitted events go besides the feed: one delivery job per endpoint name."""

    endpoints: tuple[str, ...] = ()
    max_attempts: int = 8


class Tx:
    """Never share a Tx between tasks: it wraps one AsyncSession.

    ``clock`` is the engine's clock (the database's): whatever a repository stamps
    without being handed a time (audit rows, created_at of new rows) comes from it,
    never from the database's ``now()``.
    """

    def __init__(
        self,
        session: AsyncSession,
        principal: Principal,
        blind_index: BlindIndex,
        keyring: KeyRing,
        *,
        clock: Clock | None = None,
        sinks: EventSinks = EventSinks(),
    ) -> None:
        self.session = session
        self.principal = principal
        self.blind_index = blind_index
        self.keyring = keyring
        self.clock = clock or SystemClock()
        self.sinks = sinks
        self._audit: list[dict[str, object]] = []

    def now(self) -> dt.datetime:
        return self.clock.now()

    def audit(
        self, action: str, table: str, record_id: uuid.UUID | str | None, detail: str | None = None
    ) -> None:
        """Queue an audit row; written in this transaction (one INSERT) just before commit."""
        self._audit.append(
            {
                "at": self.now().astimezone(dt.UTC).replace(tzinfo=None),
                "actor_id": self.principal.user_id,
                "actor_role": self.principal.role.value,
                "action": action,
                "table_name": table,
                "record_id": str(record_id) if record_id is not None else None,
                "detail": detail,
            }
        )

    async def flush_audit(self) -> None:
        if self._audit:
            rows, self._audit = self._audit, []
            await self.session.execute(_INSERT_AUDIT, rows)

    @cached_property
    def stores(self) -> StoreRepository:
        from storage.repositories.stores import StoreRepository

        return StoreRepository(self)

    @cached_property
    def sessions(self) -> SessionRepository:
        from storage.repositories.sessions import SessionRepository

        return SessionRepository(self)

    @cached_property
    def transcripts(self) -> TranscriptRepository:
        from storage.repositories.transcripts import TranscriptRepository

        return TranscriptRepository(self)

    @cached_property
    def metrics(self) -> CallMetricsRepository:
        from storage.repositories.metrics import CallMetricsRepository

        return CallMetricsRepository(self)

    @cached_property
    def assessments(self) -> AssessmentRepository:
        from storage.repositories.assessments import AssessmentRepository

        return AssessmentRepository(self)

    @cached_property
    def fraud(self) -> FraudRepository:
        from storage.repositories.fraud import FraudRepository

        return FraudRepository(self)

    @cached_property
    def contexts(self) -> BusinessContextRepository:
        from storage.repositories.contexts import BusinessContextRepository

        return BusinessContextRepository(self)

    @cached_property
    def reports(self) -> WeeklyReportRepository:
        from storage.repositories.reports import WeeklyReportRepository

        return WeeklyReportRepository(self)

    @cached_property
    def interviews(self) -> InterviewRepository:
        from storage.repositories.interviews import InterviewRepository

        return InterviewRepository(self)

    @cached_property
    def opt_outs(self) -> OptOutRepository:
        from storage.repositories.optouts import OptOutRepository

        return OptOutRepository(self)

    @cached_property
    def jobs(self) -> JobRepository:
        from storage.repositories.jobs import JobRepository

        return JobRepository(self)

    @cached_property
    def rewards(self) -> RewardRepository:
        from storage.repositories.rewards import RewardRepository

        return RewardRepository(self)

    @cached_property
    def events(self) -> EventRepository:
        from storage.repositories.events import EventRepository

        return EventRepository(self)

    @cached_property
    def statistics(self) -> StatisticsRepository:
        from storage.repositories.statistics import StatisticsRepository

        return StatisticsRepository(self)
