"""call_quality_metrics: one row per measurement (admin/service only; stores get aggregates)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import insert, select, text

from engine.domain import ConnectionQuality
from engine.errors import ValidationError
from storage.models import CallQualityMetric
from storage.models.base import table_of
from storage.records import CallMetrics, QualityStatistics
from storage.repositories._common import Repository, as_float, aware, score

_T = table_of(CallQualityMetric)
_C = _T.c
_STATS = text(
    "SELECT connection_quality, calls, avg_latency_ms, avg_packet_loss "
    "FROM call_quality_statistics(:store_id, :since, :until)"
)


def _int(field: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2_147_483_647:
        raise ValidationError(field, "must be a non-negative integer")
    return value


def _record(r: Any) -> CallMetrics:
    return CallMetrics(
        ConnectionQuality(r.connection_quality),
        as_float(r.audio_clarity_score),
        r.latency_ms,
        as_float(r.packet_loss_percentage),
        r.openai_api_latency,
        r.technical_errors,
        r.bandwidth_usage_kb,
        r.device_info,
        r.id,
        r.call_session_id,
        r.measured_at,
    )


class CallMetricsRepository(Repository):
    async def add(
        self, session_id: uuid.UUID, metrics: CallMetrics, measured_at: dt.datetime | None = None
    ) -> CallMetrics:
        row_id = uuid.uuid4()
        values: dict[str, Any] = {
            "id": row_id,
            "call_session_id": session_id,
            "connection_quality": ConnectionQuality(metrics.connection_quality).value,
            "audio_clarity_score": score("audio_clarity_score", metrics.audio_clarity_score),
            "latency_ms": _int("latency_ms", metrics.latency_ms),
            "packet_loss_percentage": score(
                "packet_loss_percentage", metrics.packet_loss_percentage, 0, 99.99
            ),
            "openai_api_latency": _int("openai_api_latency", metrics.openai_api_latency),
            "technical_errors": metrics.technical_errors,
            "bandwidth_usage_kb": _int("bandwidth_usage_kb", metrics.bandwidth_usage_kb),
            "device_info": metrics.device_info,
        }
        values["measured_at"] = aware("measured_at", measured_at) if measured_at else self.tx.now()
        row = (await self.session.execute(insert(_T).values(**values).returning(*_T.c))).one()
        self.tx.audit("write", "call_quality_metrics", row_id)
        return _record(row)

    async def list_for_session(self, session_id: uuid.UUID) -> list[CallMetrics]:
        rows = await self.session.execute(
            select(*_T.c).where(_C.call_session_id == session_id).order_by(_C.measured_at)
        )
        return [_record(r) for r in rows]

    async def statistics(
        self, store_id: uuid.UUID, since: dt.datetime, until: dt.datetime
    ) -> list[QualityStatistics]:
        """Aggregates for the store's dashboard; allowed for its owner (SECURITY DEFINER function)."""
        params = {
            "store_id": store_id,
            "since": aware("since", since).astimezone(dt.UTC).replace(tzinfo=None),
            "until": aware("until", until).astimezone(dt.UTC).replace(tzinfo=None),
        }
        rows = await self.session.execute(_STATS, params)
        return [
            QualityStatistics(
                ConnectionQuality(r.connection_quality),
                r.calls,
                as_float(r.avg_latency_ms),
                as_float(r.avg_packet_loss),
            )
            for r in rows
        ]
