"""Data-subject access (GDPR art. 15/20): everything stored about one phone number, as one JSON document.

Admin only (also enforced by RLS: only admins and the service read these tables).
Rows are found by the number's blind index, decrypted, and returned as plain JSON
values; the export itself is audited (one row per table read, one per session),
so who looked at whom stays on record. Nothing here is logged.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

from sqlalchemy import Table, select

from engine.domain import Role
from engine.errors import PermissionDeniedError
from storage.crypto import normalize_phone
from storage.database import Database
from storage.models import (
    CallQualityMetric,
    CallSessionEvent,
    ConversationTranscript,
    CustomerVerification,
    FeedbackCallSession,
    FraudDetectionResult,
    PhoneOptOut,
    QualityAssessment,
)
from storage.models.base import table_of
from storage.principal import Principal

FORMAT = "callengine.customer-export.v1"

_V = table_of(CustomerVerification)
_S = table_of(FeedbackCallSession)
_EV = table_of(CallSessionEvent)
_TR = table_of(ConversationTranscript)
_QA = table_of(QualityAssessment)
_F = table_of(FraudDetectionResult)
_M = table_of(CallQualityMetric)
_O = table_of(PhoneOptOut)
_INTERNAL = {"phone_bidx", "host_id", "next_attempt_at"}
"""Engine bookkeeping, not data about the person."""


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def _rows(rows: Any) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row._mapping.items() if k not in _INTERNAL} for row in rows]


def _columns(table: Table) -> list[Any]:
    return [c for c in table.c if c.name not in _INTERNAL]


async def export_customer(
    db: Database, principal: Principal, phone: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Every record linked to ``phone``, decrypted, as one JSON-ready document (audited)."""
    if principal.role is not Role.ADMIN:
        raise PermissionDeniedError("exporting customer data requires an admin")
    phone = normalize_phone(phone)
    bidx = db.blind_index.of(phone)
    now = now or db.clock.now()
    async with db.transaction(principal) as tx:
        s = tx.session
        verifications = _rows(await s.execute(select(*_columns(_V)).where(_V.c.phone_bidx == bidx)))
        sessions = _rows(
            await s.execute(select(*_columns(_S)).where(_S.c.phone_bidx == bidx).order_by(_S.c.created_at))
        )
        ids = [uuid.UUID(r["id"]) for r in sessions]
        by_session: dict[str, dict[str, Any]] = {r["id"]: r for r in sessions}
        for name, table, key, order in (
            ("events", _EV, _EV.c.session_id, _EV.c.id),
            ("transcript", _TR, _TR.c.call_session_id, _TR.c.message_order),
            ("assessments", _QA, _QA.c.call_session_id, _QA.c.created_at),
            ("fraud_checks", _F, _F.c.call_session_id, _F.c.created_at),
            ("call_quality", _M, _M.c.call_session_id, _M.c.measured_at),
        ):
            for row in _rows(await s.execute(select(*_columns(table)).where(key.in_(ids)).order_by(order))):
                owner = row.get("session_id") or row.get("call_session_id")
                by_session[str(owner)].setdefault(name, []).append(row)
        opted_out = (
            await s.execute(select(_O.c.source, _O.c.created_at).where(_O.c.phone_bidx == bidx))
        ).first()
        tx.audit(
            "export", "customer_verifications", None, f"subject access export: {len(verifications)} rows"
        )
        for sid in ids:
            tx.audit("export", "feedback_call_sessions", sid, "subject access export")
    return {
        "format": FORMAT,
        "generated_at": now.isoformat(),
        "phone_number": phone,
        "opt_out": None if opted_out is None else {k: _plain(v) for k, v in opted_out._mapping.items()},
        "verifications": verifications,
        "call_sessions": sessions,
    }
