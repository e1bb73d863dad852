"""Request validation: every field of every request, checked before anything runs.

Each ``parse_*`` function turns a protobuf request into a small typed value
(frozen dataclass) or raises :class:`~engine.api.status.FieldViolations`
naming every offending field. Nothing here touches the database; whether an
id exists is the repositories' business (NOT_FOUND).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
import zoneinfo
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from google.protobuf import json_format, struct_pb2, timestamp_pb2

from engine.api.gen import callengine_pb2 as pb
from engine.api.status import FieldViolations
from engine.domain import CheckType, ReviewDecision, SessionStatus

E164_RE = re.compile(r"^\+[1-9][0-9]{6,14}$")
_IDEMPOTENCY_RE = re.compile(r"^[\x21-\x7e]{1,128}$")
_TZ_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$")
_AMOUNT_RE = re.compile(r"^[0-9]{1,10}(\.[0-9]{1,2})?$")
_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_\-]+={0,2}$")
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_TOKEN_CHARS = 512
DEFAULT_TIMEZONE = "Europe/Stockholm"

SESSION_STATUS_TO_PB: dict[SessionStatus, pb.SessionStatus] = {
    SessionStatus.PENDING: pb.SESSION_STATUS_PENDING,
    SessionStatus.IN_PROGRESS: pb.SESSION_STATUS_IN_PROGRESS,
    SessionStatus.COMPLETED: pb.SESSION_STATUS_COMPLETED,
    SessionStatus.FAILED: pb.SESSION_STATUS_FAILED,
    SessionStatus.ABANDONED: pb.SESSION_STATUS_ABANDONED,
}
SESSION_STATUS_FROM_PB = {v: k for k, v in SESSION_STATUS_TO_PB.items()}
CHECK_TYPE_TO_PB: dict[CheckType, pb.CheckType] = {
    CheckType.TIMING: pb.CHECK_TYPE_TIMING,
    CheckType.CONTENT: pb.CHECK_TYPE_CONTENT,
    CheckType.CONTEXT: pb.CHECK_TYPE_CONTEXT,
    CheckType.PATTERN: pb.CHECK_TYPE_PATTERN,
}
CHECK_TYPE_FROM_PB = {v: k for k, v in CHECK_TYPE_TO_PB.items()}
REVIEW_TO_PB: dict[ReviewDecision, pb.ReviewDecision] = {
    ReviewDecision.CONFIRMED_FRAUD: pb.REVIEW_DECISION_CONFIRMED_FRAUD,
    ReviewDecision.FALSE_POSITIVE: pb.REVIEW_DECISION_FALSE_POSITIVE,
    ReviewDecision.NEEDS_INVESTIGATION: pb.REVIEW_DECISION_NEEDS_INVESTIGATION,
}
REVIEW_FROM_PB = {v: k for k, v in REVIEW_TO_PB.items()}

_MIN_TS = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MAX_TS = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)


class Checker:
    """Collects violations so one response names every bad field."""

    def __init__(self) -> None:
        self.violations: list[tuple[str, str]] = []

    def fail(self, field: str, description: str) -> None:
        self.violations.append((field, description))

    def done(self) -> None:
        if self.violations:
            raise FieldViolations(self.violations)

    def uuid(self, field: str, value: str, *, required: bool = True) -> uuid.UUID | None:
        if not value:
            if required:
                self.fail(field, "required")
            return None
        if len(value) != 36:
            self.fail(field, "must be a UUID (8-4-4-4-12 hex digits)")
            return None
        try:
            return uuid.UUID(value)
        except ValueError:
            self.fail(field, "must be a UUID (8-4-4-4-12 hex digits)")
            return None

    def e164(self, field: str, value: str) -> str | None:
        if not value:
            self.fail(field, "required")
            return None
        if not E164_RE.fullmatch(value):
            self.fail(field, "must be an E.164 phone number, e.g. +46701234567")
            return None
        return value

    def timestamp(self, field: str, message: Any, name: str, *, required: bool = False) -> dt.datetime | None:
        if not message.HasField(name):
            if required:
                self.fail(field, "required")
            return None
        ts: timestamp_pb2.Timestamp = getattr(message, name)
        if not 0 <= ts.nanos <= 999_999_999:
            self.fail(field, "nanos must be within 0..999999999")
            return None
        try:
            value = ts.ToDatetime(tzinfo=dt.UTC)
        except (ValueError, OverflowError, OSError):
            value = None
        if value is None or not _MIN_TS <= value <= _MAX_TS:
            self.fail(field, "must be between 1970-01-01 and 9999-12-31")
            return None
        return value

    def enum(self, field: str, value: int, mapping: Mapping[Any, Any], *, required: bool) -> Any:
        if value == 0:
            if required:
                self.fail(field, "required (must not be UNSPECIFIED)")
            return None
        if value not in mapping:
            self.fail(field, f"unknown enum value {value}")
            return None
        return mapping[value]

    def page_size(self, field: str, value: int) -> int:
        if value == 0:
            return DEFAULT_PAGE_SIZE
        if not 1 <= value <= MAX_PAGE_SIZE:
            self.fail(field, f"must be within 1..{MAX_PAGE_SIZE} (0 means {DEFAULT_PAGE_SIZE})")
            return DEFAULT_PAGE_SIZE
        return value

    def page_token(self, field: str, value: str) -> str | None:
        """Opaque to the client; the repositories decode it (and reject forged ones)."""
        if not value:
            return None
        if len(value) > MAX_PAGE_TOKEN_CHARS or not _TOKEN_RE.fullmatch(value):
            self.fail(field, "not a token returned by this API")
            return None
        return value

    def week(self, field: str, value: str) -> dt.date | None:
        if not value:
            self.fail(field, "required (YYYY-MM-DD)")
            return None
        try:
            if not _DATE_RE.fullmatch(value):
                raise ValueError(value)
            day = dt.date.fromisoformat(value)
        except ValueError:
            self.fail(field, "must be a date YYYY-MM-DD")
            return None
        return day - dt.timedelta(days=day.weekday())

    def json_value(self, field: str, message: Any, name: str, *, required: bool) -> Any:
        if not message.HasField(name):
            if required:
                self.fail(field, "required")
            return None
        value: struct_pb2.Value = getattr(message, name)
        if value.WhichOneof("kind") is None:
            if required:
                self.fail(field, "required (a JSON value, not empty)")
            return None
        try:
            return json_format.MessageToDict(value)
        except (json_format.Error, ValueError, TypeError, RecursionError):
            self.fail(field, "not a valid JSON value")
            return None


# ---------------------------------------------------------------- parsed requests


@dataclasses.dataclass(frozen=True)
class DispatchArgs:
    verification_id: uuid.UUID
    store_id: uuid.UUID
    phone_number: str | None
    """Optional: when given it must be the verification's number (the engine dials that one)."""
    idempotency_key: str | None
    not_before: dt.datetime | None


def allowed_destination(phone: str, allowed_country_codes: tuple[str, ...]) -> bool:
    """Whether an E.164 number starts with one of the allowed ``+<code>`` prefixes."""
    return any(phone.startswith(code) for code in allowed_country_codes)


def parse_dispatch(req: pb.DispatchCallRequest, allowed_country_codes: tuple[str, ...] = ()) -> DispatchArgs:
    c = Checker()
    verification_id = c.uuid("customer_verification_id", req.customer_verification_id)
    store_id = c.uuid("store_id", req.store_id)
    phone = c.e164("phone_number", req.phone_number) if req.phone_number else None
    if phone is not None and allowed_country_codes and not allowed_destination(phone, allowed_country_codes):
        c.fail("phone_number", "country code not allowed: " + ", ".join(allowed_country_codes))
    key = req.idempotency_key or None
    if key is not None and not _IDEMPOTENCY_RE.fullmatch(key):
        c.fail("idempotency_key", "at most 128 printable ASCII characters, no spaces")
    not_before = c.timestamp("not_before", req, "not_before")
    c.done()
    assert verification_id and store_id
    return DispatchArgs(verification_id, store_id, phone, key, not_before)


def parse_session_id(req: pb.GetCallRequest | pb.WatchCallRequest | pb.CancelCallRequest) -> uuid.UUID:
    c = Checker()
    session_id = c.uuid("session_id", req.session_id)
    c.done()
    assert session_id
    return session_id


def parse_assessment(req: pb.GetAssessmentRequest) -> uuid.UUID:
    c = Checker()
    session_id = c.uuid("session_id", req.session_id)
    c.done()
    assert session_id
    return session_id


@dataclasses.dataclass(frozen=True)
class ListCallsArgs:
    store_id: uuid.UUID
    status: SessionStatus | None
    created_after: dt.datetime | None
    created_before: dt.datetime | None
    page_size: int
    page_token: str | None


def parse_list_calls(req: pb.ListCallsRequest) -> ListCallsArgs:
    c = Checker()
    store_id = c.uuid("store_id", req.store_id)
    status = c.enum("status", req.status, SESSION_STATUS_FROM_PB, required=False)
    after = c.timestamp("created_after", req, "created_after")
    before = c.timestamp("created_before", req, "created_before")
    if after and before and after >= before:
        c.fail("created_before", "must be later than created_after")
    size = c.page_size("page_size", req.page_size)
    cursor = c.page_token("page_token", req.page_token)
    c.done()
    assert store_id
    return ListCallsArgs(store_id, status, after, before, size, cursor)


def parse_store_id(req: pb.GetBusinessContextRequest) -> uuid.UUID:
    c = Checker()
    store_id = c.uuid("store_id", req.store_id)
    c.done()
    assert store_id
    return store_id


@dataclasses.dataclass(frozen=True)
class BusinessContextArgs:
    store_id: uuid.UUID
    payload: dict[str, Any]
    expected_version: int | None


BUSINESS_CONTEXT_FIELDS = (
    ("operating_hours", True),
    ("departments", True),
    ("current_campaigns", False),
    ("question_configuration", True),
    ("baseline_facts", True),
)


def parse_put_business_context(req: pb.PutBusinessContextRequest) -> BusinessContextArgs:
    c = Checker()
    store_id = c.uuid("store_id", req.store_id)
    payload: dict[str, Any] = {}
    for name, required in BUSINESS_CONTEXT_FIELDS:
        payload[name] = c.json_value(name, req, name, required=required)
    if req.expected_version < 0:
        c.fail("expected_version", "must be >= 0 (0 skips the check)")
    c.done()
    assert store_id
    return BusinessContextArgs(store_id, payload, req.expected_version or None)


@dataclasses.dataclass(frozen=True)
class WeekArgs:
    store_id: uuid.UUID
    week_monday: dt.date


def parse_week(req: pb.GetWeeklyReportRequest | pb.GenerateWeeklyReportRequest) -> WeekArgs:
    c = Checker()
    store_id = c.uuid("store_id", req.store_id)
    monday = c.week("analysis_week", req.analysis_week)
    c.done()
    assert store_id and monday
    return WeekArgs(store_id, monday)


@dataclasses.dataclass(frozen=True)
class ListFraudArgs:
    store_id: uuid.UUID | None
    needs_review_only: bool
    suspicious_only: bool
    check_type: CheckType | None
    page_size: int
    page_token: str | None


def parse_list_fraud(req: pb.ListFraudResultsRequest) -> ListFraudArgs:
    c = Checker()
    store_id = c.uuid("store_id", req.store_id, required=False)
    check_type = c.enum("check_type", req.check_type, CHECK_TYPE_FROM_PB, required=False)
    size = c.page_size("page_size", req.page_size)
    cursor = c.page_token("page_token", req.page_token)
    c.done()
    return ListFraudArgs(store_id, req.needs_review_only, req.suspicious_only, check_type, size, cursor)


@dataclasses.dataclass(frozen=True)
class ReviewArgs:
    fraud_result_id: uuid.UUID
    decision: ReviewDecision


def parse_review(req: pb.ReviewFraudResultRequest) -> ReviewArgs:
    c = Checker()
    result_id = c.uuid("fraud_result_id", req.fraud_result_id)
    decision = c.enum("decision", req.decision, REVIEW_FROM_PB, required=True)
    c.done()
    assert result_id and decision
    return ReviewArgs(result_id, decision)


def parse_erase(req: pb.EraseCustomerDataRequest | pb.ExportCustomerDataRequest) -> str:
    c = Checker()
    phone = c.e164("phone_number", req.phone_number)
    c.done()
    assert phone
    return phone


@dataclasses.dataclass(frozen=True)
class StoreArgs:
    store_id: uuid.UUID
    business_id: uuid.UUID
    name: str
    timezone: str
    business_name: str | None
    currency: str | None = None


def parse_put_store(req: pb.PutStoreRequest) -> StoreArgs:
    from engine.api.business_args import parse_currency

    c = Checker()
    store_id = c.uuid("store_id", req.store_id)
    business_id = c.uuid("business_id", req.business_id)
    name = req.name.strip()
    if not name:
        c.fail("name", "required")
    elif len(name) > 200 or not name.isprintable():
        c.fail("name", "1-200 printable characters")
    business_name = req.business_name.strip() or None
    if business_name is not None and (len(business_name) > 200 or not business_name.isprintable()):
        c.fail("business_name", "1-200 printable characters")
    tz = req.timezone or DEFAULT_TIMEZONE
    if not valid_timezone(tz):
        c.fail("timezone", "must be an IANA time zone, e.g. Europe/Stockholm")
    currency = parse_currency(c, req.currency)
    c.done()
    assert store_id and business_id
    return StoreArgs(store_id, business_id, name, tz, business_name, currency)


def valid_timezone(name: str) -> bool:
    if len(name) > 64 or not _TZ_RE.fullmatch(name):
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


@dataclasses.dataclass(frozen=True)
class VerificationArgs:
    verification_id: uuid.UUID
    store_id: uuid.UUID
    phone_number: str
    purchase_time: dt.datetime
    purchase_amount: Decimal
    verified_at: dt.datetime | None


def parse_put_verification(req: pb.PutVerificationRequest) -> VerificationArgs:
    c = Checker()
    verification_id = c.uuid("customer_verification_id", req.customer_verification_id)
    store_id = c.uuid("store_id", req.store_id)
    phone = c.e164("phone_number", req.phone_number)
    purchase_time = c.timestamp("purchase_time", req, "purchase_time", required=True)
    verified_at = c.timestamp("verified_at", req, "verified_at")
    amount: Decimal | None = None
    if not req.purchase_amount:
        c.fail("purchase_amount", "required")
    elif not _AMOUNT_RE.fullmatch(req.purchase_amount):
        c.fail("purchase_amount", "a decimal >= 0 with at most 2 decimals, e.g. 249.50")
    else:
        amount = Decimal(req.purchase_amount)
    c.done()
    assert verification_id and store_id and phone and purchase_time and amount is not None
    return VerificationArgs(verification_id, store_id, phone, purchase_time, amount, verified_at)
