"""DispatchCall in one database statement: ``dispatch_session`` (migration ``0005_security``).

The statement checks the caller's store, the verification and the optional number the
caller named (by blind index), the store's daily quota and the number's cooldown, then
inserts the session with the verification's number copied inside the database, its first
event and its audit row. It also sets the principal itself, so it runs as one autocommit
round trip (:meth:`storage.database.Database.dispatch`) or inside a transaction alike.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from functools import cache
from typing import Any

from sqlalchemy import Integer, Row, String, TextualSelect, Uuid, column, text

from engine.domain import SessionStatus
from engine.errors import NotFoundError, ResourceExhaustedError, ValidationError
from storage.principal import Principal
from storage.records import CallSessionRecord
from storage.types import UtcDateTime

RETENTION = dt.timedelta(days=90)


@dataclasses.dataclass(frozen=True)
class DispatchLimits:
    """Per-number cooldown (across stores) and per-store quota of new sessions in any 24 hours."""

    number_cooldown_seconds: float = 0.0
    store_daily_quota: int = 0
    """0 turns a limit off."""


NO_LIMITS = DispatchLimits()

_TYPES: dict[str, Any] = {
    "id": Uuid(),
    "customer_verification_id": Uuid(),
    "store_id": Uuid(),
    "session_status": String(),
    "call_initiated_at": UtcDateTime(),
    "expires_at": UtcDateTime(),
    "retry_count": Integer(),
    "call_connected_at": UtcDateTime(),
    "call_ended_at": UtcDateTime(),
    "duration_seconds": Integer(),
    "failure_reason": String(),
    "openai_session_id": String(),
    "created_at": UtcDateTime(),
    "next_attempt_at": UtcDateTime(),
    "host_id": String(),
    "phase": String(),
    "twilio_call_sid": String(),
    "updated_at": UtcDateTime(),
}


@cache
def dispatch_statement() -> TextualSelect:
    names = ", ".join(_TYPES)
    return text(
        f"SELECT outcome, retry_after_seconds, {names} FROM dispatch_session("
        ":role, :user_id, :store_ids, :verification_id, :store_id, :phone_bidx, :new_id, "
        ":now, :due, :expires, :cooldown, :quota)"
    ).columns(
        column("outcome", String()),
        column("retry_after_seconds"),
        *(column(name, type_) for name, type_ in _TYPES.items()),
    )


@cache
def dispatch_sql() -> str:
    """The same call for a raw psycopg connection (:mod:`storage.dispatch_pool`), typed casts
    so the prepared statement resolves the function whatever Python types the values have."""
    names = ", ".join(_TYPES)
    return (
        f"SELECT outcome, retry_after_seconds, {names} FROM dispatch_session("
        "%(role)s::text, %(user_id)s::text, %(store_ids)s::text, %(verification_id)s::uuid, "
        "%(store_id)s::uuid, %(phone_bidx)s::text, %(new_id)s::uuid, %(now)s::timestamp, "
        "%(due)s::timestamp, %(expires)s::timestamp, %(cooldown)s::double precision, "
        "%(quota)s::integer)"
    )


def _naive_utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def dispatch_params(
    principal: Principal,
    verification_id: uuid.UUID,
    store_id: uuid.UUID,
    phone_bidx: str | None,
    now: dt.datetime,
    due: dt.datetime,
    limits: DispatchLimits,
) -> dict[str, Any]:
    return {
        **principal.settings(),
        "verification_id": verification_id,
        "store_id": store_id,
        "phone_bidx": phone_bidx,
        "new_id": uuid.uuid4(),
        "now": _naive_utc(now),
        "due": _naive_utc(due),
        "expires": _naive_utc(now + RETENTION),
        "cooldown": float(limits.number_cooldown_seconds),
        "quota": int(limits.store_daily_quota),
    }


_UTC_COLUMNS = tuple(name for name, type_ in _TYPES.items() if isinstance(type_, UtcDateTime))


def dispatch_result_raw(row: tuple[Any, ...], limits: DispatchLimits) -> CallSessionRecord:
    """:func:`dispatch_result` for a raw psycopg row (timestamps come back naive UTC)."""
    values = dict(zip(_TYPES, row[2:], strict=True))
    for name in _UTC_COLUMNS:
        value = values[name]
        if value is not None:
            values[name] = value.replace(tzinfo=dt.UTC)
    return _result(row[0], row[1], values, limits)


def dispatch_result(row: Row[Any], limits: DispatchLimits) -> CallSessionRecord:
    """The session, or the engine error the statement's outcome stands for."""
    m = row._mapping
    return _result(row.outcome, row.retry_after_seconds, {name: m[name] for name in _TYPES}, limits)


def _result(
    outcome: str, retry_after_seconds: Any, values: dict[str, Any], limits: DispatchLimits
) -> CallSessionRecord:
    if outcome in ("created", "existing"):
        values["session_status"] = SessionStatus(values["session_status"])
        values["retry_count"] = values["retry_count"] or 0
        return CallSessionRecord(**values)
    if outcome == "no_verification":
        raise NotFoundError("customer verification not found")
    if outcome == "wrong_store":
        raise ValidationError("store_id", "does not match the verification's store")
    if outcome == "erased":
        raise ValidationError("customer_verification_id", "the verification's number was erased")
    if outcome == "phone_mismatch":
        raise ValidationError("phone_number", "is not the verification's number (leave it empty)")
    retry_after = float(retry_after_seconds or 0.0)
    if outcome == "store_quota":
        raise ResourceExhaustedError(
            f"the store reached its quota of {limits.store_daily_quota} new calls in 24 hours",
            retry_after_seconds=retry_after,
        )
    if outcome == "number_cooldown":
        raise ResourceExhaustedError(
            "this number was called recently (cooldown across stores)", retry_after_seconds=retry_after
        )
    raise RuntimeError(f"dispatch_session returned an unknown outcome {outcome!r}")
