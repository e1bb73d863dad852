"""Each validation rule by what it answers: the field named, the description given, the value returned."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from google.protobuf.message import Message

from engine.api import validation as v
from engine.api.gen import callengine_pb2 as pb
from engine.api.status import FieldViolations
from engine.domain import CheckType, ReviewDecision, SessionStatus

U1 = "3f2b8a9e-1c4d-4e5f-8a7b-6c5d4e3f2a1b"
U2 = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
UUID_TEXT = "must be a UUID (8-4-4-4-12 hex digits)"
E164_TEXT = "must be an E.164 phone number, e.g. +46701234567"


def violations(fn: Callable[[Any], Any], req: Message) -> list[tuple[str, str]]:
    with pytest.raises(FieldViolations) as info:
        fn(req)
    return info.value.violations


def test_uuid_rule() -> None:
    assert violations(v.parse_session_id, pb.GetCallRequest()) == [("session_id", "required")]
    assert violations(v.parse_session_id, pb.GetCallRequest(session_id="x" * 36)) == [
        ("session_id", UUID_TEXT)
    ]
    assert violations(v.parse_session_id, pb.GetCallRequest(session_id=U1[:-1])) == [
        ("session_id", UUID_TEXT)
    ]
    assert v.parse_session_id(pb.GetCallRequest(session_id=U1)) == uuid.UUID(U1)
    assert v.parse_session_id(pb.CancelCallRequest(session_id=U1.upper())) == uuid.UUID(U1)
    assert v.parse_assessment(pb.GetAssessmentRequest(session_id=U2)) == uuid.UUID(U2)
    assert violations(v.parse_assessment, pb.GetAssessmentRequest(session_id="")) == [
        ("session_id", "required")
    ]
    assert v.parse_store_id(pb.GetBusinessContextRequest(store_id=U1)) == uuid.UUID(U1)
    assert violations(v.parse_store_id, pb.GetBusinessContextRequest(store_id="no")) == [
        ("store_id", UUID_TEXT)
    ]


def test_phone_rule() -> None:
    assert violations(v.parse_erase, pb.EraseCustomerDataRequest()) == [("phone_number", "required")]
    assert violations(v.parse_erase, pb.EraseCustomerDataRequest(phone_number="0701")) == [
        ("phone_number", E164_TEXT)
    ]
    assert v.parse_erase(pb.EraseCustomerDataRequest(phone_number="+1234567")) == "+1234567"
    assert v.parse_erase(pb.EraseCustomerDataRequest(phone_number="+123456789012345")) == "+123456789012345"


def _dispatch(**fields: Any) -> pb.DispatchCallRequest:
    values: dict[str, Any] = {"customer_verification_id": U1, "store_id": U2, "phone_number": "+46701234567"}
    return pb.DispatchCallRequest(**{**values, **fields})


def test_dispatch_values_and_idempotency_key() -> None:
    args = v.parse_dispatch(_dispatch(idempotency_key="k" * 128))
    assert (args.verification_id, args.store_id) == (uuid.UUID(U1), uuid.UUID(U2))
    assert args.idempotency_key == "k" * 128 and args.not_before is None
    text = "at most 128 printable ASCII characters, no spaces"
    assert violations(v.parse_dispatch, _dispatch(idempotency_key="k" * 129)) == [("idempotency_key", text)]
    assert violations(v.parse_dispatch, _dispatch(idempotency_key="k\x7f")) == [("idempotency_key", text)]
    assert v.parse_dispatch(_dispatch(idempotency_key="!~")).idempotency_key == "!~"
    missing = violations(v.parse_dispatch, pb.DispatchCallRequest())
    assert missing == [("customer_verification_id", "required"), ("store_id", "required")]
    no_phone = pb.DispatchCallRequest(customer_verification_id=U1, store_id=U2)
    assert v.parse_dispatch(no_phone).phone_number is None  # the verification's number is dialled
    assert violations(v.parse_dispatch, _dispatch(phone_number="0701")) == [("phone_number", E164_TEXT)]


def test_dispatch_destination_country_codes() -> None:
    assert v.parse_dispatch(_dispatch(), ("+46", "+47")).phone_number == "+46701234567"
    assert v.parse_dispatch(_dispatch()).phone_number == "+46701234567"  # no list: any country
    us = _dispatch(phone_number="+12025550123")
    assert violations(lambda r: v.parse_dispatch(r, ("+46", "+47")), us) == [
        ("phone_number", "country code not allowed: +46, +47")
    ]
    assert v.allowed_destination("+4712345678", ("+46", "+47"))
    assert not v.allowed_destination("+4512345678", ("+46", "+47"))
    assert not v.allowed_destination("+4612345678", ())


def test_timestamp_rule() -> None:
    req = _dispatch()
    req.not_before.seconds, req.not_before.nanos = 0, 0
    assert v.parse_dispatch(req).not_before == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # the first moment
    req.not_before.seconds, req.not_before.nanos = 0, 999_999_999
    assert v.parse_dispatch(req).not_before == dt.datetime(1970, 1, 1, 0, 0, 0, 999_999, tzinfo=dt.UTC)
    req.not_before.nanos = 1_000_000_000
    assert violations(v.parse_dispatch, req) == [("not_before", "nanos must be within 0..999999999")]
    req.not_before.seconds, req.not_before.nanos = -1, 0
    assert violations(v.parse_dispatch, req) == [("not_before", "must be between 1970-01-01 and 9999-12-31")]
    last = int(dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC).timestamp())
    req.not_before.seconds = last
    assert v.parse_dispatch(req).not_before == dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    req.not_before.seconds = last + 1
    assert violations(v.parse_dispatch, req) == [("not_before", "must be between 1970-01-01 and 9999-12-31")]
    verification = pb.PutVerificationRequest(
        customer_verification_id=U1, store_id=U2, phone_number="+46701234567", purchase_amount="1"
    )
    assert violations(v.parse_put_verification, verification) == [("purchase_time", "required")]


def test_list_calls_values_and_rules() -> None:
    req = pb.ListCallsRequest(store_id=U1, page_size=1, page_token="abc_-==")
    req.created_after.FromDatetime(dt.datetime(2030, 1, 1))
    req.created_before.FromDatetime(dt.datetime(2030, 1, 2))
    args = v.parse_list_calls(req)
    assert args == v.ListCallsArgs(
        uuid.UUID(U1),
        None,
        dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2030, 1, 2, tzinfo=dt.UTC),
        1,
        "abc_-==",
    )
    req.created_before.FromDatetime(dt.datetime(2030, 1, 1))  # equal: an empty range
    assert violations(v.parse_list_calls, req) == [("created_before", "must be later than created_after")]
    assert v.parse_list_calls(pb.ListCallsRequest(store_id=U1, page_size=100)).page_size == 100
    assert violations(v.parse_list_calls, pb.ListCallsRequest(store_id=U1, page_size=101)) == [
        ("page_size", "must be within 1..100 (0 means 50)")
    ]
    assert violations(v.parse_list_calls, pb.ListCallsRequest(store_id=U1, status=42)) == [
        ("status", "unknown enum value 42")
    ]
    assert v.parse_list_calls(pb.ListCallsRequest(store_id=U1, page_token="a" * 512)).page_token == "a" * 512
    assert violations(v.parse_list_calls, pb.ListCallsRequest(store_id=U1, page_token="a" * 513)) == [
        ("page_token", "not a token returned by this API")
    ]
    assert violations(v.parse_list_calls, pb.ListCallsRequest(store_id=U1, page_token="a===")) == [
        ("page_token", "not a token returned by this API")
    ]


def test_enum_mappings_are_complete_and_inverse() -> None:
    assert set(v.SESSION_STATUS_TO_PB) == set(SessionStatus)
    assert set(v.CHECK_TYPE_TO_PB) == set(CheckType)
    assert set(v.REVIEW_TO_PB) == set(ReviewDecision)
    for forward, back in (
        (v.SESSION_STATUS_TO_PB, v.SESSION_STATUS_FROM_PB),
        (v.CHECK_TYPE_TO_PB, v.CHECK_TYPE_FROM_PB),
        (v.REVIEW_TO_PB, v.REVIEW_FROM_PB),
    ):
        assert {b: a for a, b in forward.items()} == back and 0 not in back
    assert v.SESSION_STATUS_TO_PB[SessionStatus.ABANDONED] == pb.SESSION_STATUS_ABANDONED
    assert v.CHECK_TYPE_TO_PB[CheckType.CONTEXT] == pb.CHECK_TYPE_CONTEXT
    assert v.REVIEW_TO_PB[ReviewDecision.NEEDS_INVESTIGATION] == pb.REVIEW_DECISION_NEEDS_INVESTIGATION
    for status, value in v.SESSION_STATUS_TO_PB.items():
        assert pb.SessionStatus.Name(value) == "SESSION_STATUS_" + status.name


def test_week_rule() -> None:
    text = "must be a date YYYY-MM-DD"
    assert violations(v.parse_week, pb.GetWeeklyReportRequest(store_id=U1)) == [
        ("analysis_week", "required (YYYY-MM-DD)")
    ]
    assert violations(
        v.parse_week, pb.GenerateWeeklyReportRequest(store_id=U1, analysis_week="2026-02-30")
    ) == [("analysis_week", text)]
    assert violations(v.parse_week, pb.GetWeeklyReportRequest(store_id=U1, analysis_week="20261123")) == [
        ("analysis_week", text)
    ]
    monday = v.parse_week(pb.GetWeeklyReportRequest(store_id=U2, analysis_week="2026-11-23"))
    assert monday == v.WeekArgs(uuid.UUID(U2), dt.date(2026, 11, 23))
    sunday = v.parse_week(pb.GetWeeklyReportRequest(store_id=U2, analysis_week="2026-11-29"))
    assert sunday.week_monday == dt.date(2026, 11, 23)


def test_fraud_listing_and_review() -> None:
    args = v.parse_list_fraud(
        pb.ListFraudResultsRequest(
            needs_review_only=True, suspicious_only=True, check_type=pb.CHECK_TYPE_PATTERN
        )
    )
    assert args == v.ListFraudArgs(None, True, True, CheckType.PATTERN, v.DEFAULT_PAGE_SIZE, None)
    assert v.parse_list_fraud(pb.ListFraudResultsRequest(store_id=U1, page_size=7)).store_id == uuid.UUID(U1)
    assert violations(v.parse_list_fraud, pb.ListFraudResultsRequest(store_id="x", check_type=9)) == [
        ("store_id", UUID_TEXT),
        ("check_type", "unknown enum value 9"),
    ]
    review = v.parse_review(
        pb.ReviewFraudResultRequest(fraud_result_id=U1, decision=pb.REVIEW_DECISION_CONFIRMED_FRAUD)
    )
    assert review == v.ReviewArgs(uuid.UUID(U1), ReviewDecision.CONFIRMED_FRAUD)
    assert violations(v.parse_review, pb.ReviewFraudResultRequest()) == [
        ("fraud_result_id", "required"),
        ("decision", "required (must not be UNSPECIFIED)"),
    ]


def test_business_context_json_rules() -> None:
    req = pb.PutBusinessContextRequest(store_id=U1)
    req.operating_hours.struct_value.update({"mon": "09-18"})
    req.departments.SetInParent()  # present but empty: no JSON value in it
    req.current_campaigns.list_value.extend(["lax"])
    req.question_configuration.struct_value.SetInParent()
    req.baseline_facts.number_value = 3
    assert violations(v.parse_put_business_context, req) == [
        ("departments", "required (a JSON value, not empty)")
    ]
    req.departments.bool_value = True
    args = v.parse_put_business_context(req)
    assert args.payload == {
        "operating_hours": {"mon": "09-18"},
        "departments": True,
        "current_campaigns": ["lax"],
        "question_configuration": {},
        "baseline_facts": 3.0,
    }
    assert args.expected_version is None and args.store_id == uuid.UUID(U1)
    missing = violations(v.parse_put_business_context, pb.PutBusinessContextRequest(store_id=U1))
    assert missing == [
        ("operating_hours", "required"),
        ("departments", "required"),
        ("question_configuration", "required"),
        ("baseline_facts", "required"),
    ]
    req.expected_version = -1
    assert violations(v.parse_put_business_context, req) == [
        ("expected_version", "must be >= 0 (0 skips the check)")
    ]
    req.current_campaigns.SetInParent()
    req.current_campaigns.ClearField("list_value")
    req.expected_version = 0
    assert v.parse_put_business_context(req).payload["current_campaigns"] is None  # optional, empty


def _store(**fields: Any) -> pb.PutStoreRequest:
    return pb.PutStoreRequest(store_id=U1, business_id=U2, **fields)


def test_store_values_and_rules() -> None:
    args = v.parse_put_store(_store(name="  ICA Solna ", business_name=" ICA AB ", timezone="Asia/Tokyo"))
    assert args == v.StoreArgs(uuid.UUID(U1), uuid.UUID(U2), "ICA Solna", "Asia/Tokyo", "ICA AB")
    assert v.parse_put_store(_store(name="n" * 200)).business_name is None
    text = "1-200 printable characters"
    assert violations(v.parse_put_store, _store(name="n" * 201)) == [("name", text)]
    assert violations(v.parse_put_store, _store(name="a\nb")) == [("name", text)]
    assert violations(v.parse_put_store, _store(name="")) == [("name", "required")]
    assert violations(v.parse_put_store, _store(name="n", business_name="b" * 201)) == [
        ("business_name", text)
    ]
    assert violations(v.parse_put_store, _store(name="n", business_name="a\tb")) == [("business_name", text)]
    assert v.parse_put_store(_store(name="n", business_name="b" * 200)).business_name == "b" * 200
    assert violations(v.parse_put_store, _store(name="n", timezone="Nowhere/Land")) == [
        ("timezone", "must be an IANA time zone, e.g. Europe/Stockholm")
    ]
    assert violations(v.parse_put_store, pb.PutStoreRequest(name="n")) == [
        ("store_id", "required"),
        ("business_id", "required"),
    ]


def test_timezone_names() -> None:
    for good in ("UTC", "Europe/Stockholm", "America/Argentina/Buenos_Aires", "Etc/GMT+1"):
        assert v.valid_timezone(good), good
    for bad in ("", "/Europe", "Europe//Stockholm", "a/b/c/d", "Europe/Stockholm ", "x" * 65, "9Europe/X"):
        assert not v.valid_timezone(bad), bad


def _verification(amount: str) -> pb.PutVerificationRequest:
    req = pb.PutVerificationRequest(
        customer_verification_id=U1, store_id=U2, phone_number="+46701234567", purchase_amount=amount
    )
    req.purchase_time.FromDatetime(dt.datetime(2026, 11, 20, 12, 0))
    return req


def test_verification_values_and_amounts() -> None:
    req = _verification("0.5")
    req.verified_at.FromDatetime(dt.datetime(2026, 11, 20, 12, 5))
    args = v.parse_put_verification(req)
    assert args == v.VerificationArgs(
        uuid.UUID(U1),
        uuid.UUID(U2),
        "+46701234567",
        dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC),
        Decimal("0.5"),
        dt.datetime(2026, 11, 20, 12, 5, tzinfo=dt.UTC),
    )
    assert v.parse_put_verification(_verification("9999999999.99")).purchase_amount == Decimal(
        "9999999999.99"
    )
    text = "a decimal >= 0 with at most 2 decimals, e.g. 249.50"
    for bad in ("99999999999", "1.", ".5", "1,5"):
        assert violations(v.parse_put_verification, _verification(bad)) == [("purchase_amount", text)], bad
    assert violations(v.parse_put_verification, _verification("")) == [("purchase_amount", "required")]


def test_json_that_cannot_be_json_is_named() -> None:
    req = pb.PutBusinessContextRequest(store_id=U1)
    req.operating_hours.number_value = float("inf")  # protobuf's Value holds it; JSON cannot
    req.departments.list_value.extend(["x"])
    req.question_configuration.struct_value.update({"q": 1})
    req.baseline_facts.struct_value.update({"f": 1})
    assert violations(v.parse_put_business_context, req) == [("operating_hours", "not a valid JSON value")]


def test_fraud_listing_passes_its_page_token_through() -> None:
    args = v.parse_list_fraud(pb.ListFraudResultsRequest(page_token="abc_-=="))
    assert args.page_token == "abc_-=="
    assert violations(v.parse_list_fraud, pb.ListFraudResultsRequest(page_token="a b")) == [
        ("page_token", "not a token returned by this API")
    ]


def test_store_currency() -> None:
    assert v.parse_put_store(_store(name="n", currency="SEK")).currency == "SEK"
    assert v.parse_put_store(_store(name="n")).currency is None  # empty keeps the stored one
    [(field, text)] = violations(v.parse_put_store, _store(name="n", currency="XXX"))
    assert field == "currency" and text.startswith("must be one of ") and "SEK" in text
