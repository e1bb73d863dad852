"""Validation matrix: each field's rule, plus generated requests that must never crash the parsers."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from google.protobuf import descriptor, struct_pb2, timestamp_pb2
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.api import business_args
from engine.api import validation as v
from engine.api.gen import callengine_pb2 as pb
from engine.api.status import FieldViolations
from engine.domain import SessionStatus

U1 = "3f2b8a9e-1c4d-4e5f-8a7b-6c5d4e3f2a1b"
U2 = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"


def violated(fn: Callable[[Any], Any], req: Message) -> list[str]:
    with pytest.raises(FieldViolations) as info:
        fn(req)
    return [field for field, _ in info.value.violations]


def test_dispatch_ok() -> None:
    req = pb.DispatchCallRequest(customer_verification_id=U1, store_id=U2, phone_number="+46701234567")
    req.not_before.FromDatetime(dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    args = v.parse_dispatch(req)
    assert args.verification_id == uuid.UUID(U1) and args.phone_number == "+46701234567"
    assert args.not_before == dt.datetime(2030, 1, 1, tzinfo=dt.UTC) and args.idempotency_key is None


def test_dispatch_names_every_bad_field() -> None:
    req = pb.DispatchCallRequest(
        customer_verification_id="nope", store_id="", phone_number="0701234567", idempotency_key="a b"
    )
    req.not_before.nanos = -1
    assert violated(v.parse_dispatch, req) == [
        "customer_verification_id",
        "store_id",
        "phone_number",
        "idempotency_key",
        "not_before",
    ]


@pytest.mark.parametrize("phone", ["+46701234567", "+12025550123", "+4915123456789"])
def test_e164_ok(phone: str) -> None:
    assert v.parse_erase(pb.EraseCustomerDataRequest(phone_number=phone)) == phone


@pytest.mark.parametrize(
    "phone", ["", "46701234567", "+0701234567", "+46 70 123", "+4670123456789012", "+46-70", "+١٢٣٤٥٦٧٨"]
)
def test_e164_bad(phone: str) -> None:
    assert violated(v.parse_erase, pb.EraseCustomerDataRequest(phone_number=phone)) == ["phone_number"]


@pytest.mark.parametrize("bad", ["", "x", U1.upper().replace("-", ""), "{" + U1[1:] + "}", U1 + " "])
def test_uuid_bad(bad: str) -> None:
    assert violated(v.parse_session_id, pb.GetCallRequest(session_id=bad)) == ["session_id"]


def test_list_calls_rules() -> None:
    ok = v.parse_list_calls(pb.ListCallsRequest(store_id=U1, status=pb.SESSION_STATUS_FAILED))
    assert ok.status is SessionStatus.FAILED and ok.page_size == v.DEFAULT_PAGE_SIZE and ok.page_token is None
    req = pb.ListCallsRequest(store_id=U1, status=99, page_size=101, page_token="%%%")
    req.created_after.FromDatetime(dt.datetime(2030, 1, 2))
    req.created_before.FromDatetime(dt.datetime(2030, 1, 1))
    assert violated(v.parse_list_calls, req) == ["status", "created_before", "page_size", "page_token"]
    assert violated(v.parse_list_calls, pb.ListCallsRequest(store_id=U1, page_size=-1)) == ["page_size"]


def test_page_token_passes_through_opaque() -> None:
    args = v.parse_list_calls(pb.ListCallsRequest(store_id=U1, page_token="WyIyMDMwIiwgIngiXQ=="))
    assert args.page_token == "WyIyMDMwIiwgIngiXQ=="
    for bad in ("x" * 600, "a b", "ä"):
        assert violated(v.parse_list_calls, pb.ListCallsRequest(store_id=U1, page_token=bad)) == [
            "page_token"
        ]


def test_week_is_normalised_to_monday() -> None:
    args = v.parse_week(pb.GetWeeklyReportRequest(store_id=U1, analysis_week="2026-11-26"))
    assert args.week_monday == dt.date(2026, 11, 23)
    for bad in ("", "2026-13-01", "26-11-2026", "2026-11-26T00:00"):
        req = pb.GetWeeklyReportRequest(store_id=U1, analysis_week=bad)
        assert violated(v.parse_week, req) == ["analysis_week"]


def test_review_requires_decision() -> None:
    assert violated(v.parse_review, pb.ReviewFraudResultRequest(fraud_result_id=U1)) == ["decision"]
    assert violated(v.parse_review, pb.ReviewFraudResultRequest(fraud_result_id=U1, decision=7)) == [
        "decision"
    ]


def test_business_context_required_json() -> None:
    req = pb.PutBusinessContextRequest(store_id=U1, expected_version=-1)
    req.operating_hours.struct_value.update({"mon": "09-18"})
    req.departments.list_value.extend(["bakery"])
    assert violated(v.parse_put_business_context, req) == [
        "question_configuration",
        "baseline_facts",
        "expected_version",
    ]
    req.question_configuration.struct_value.update({"questions": []})
    req.baseline_facts.struct_value.update({"size": 3})
    req.expected_version = 2
    args = v.parse_put_business_context(req)
    assert args.payload["departments"] == ["bakery"] and args.payload["current_campaigns"] is None
    assert args.expected_version == 2


def test_store_rules() -> None:
    ok = v.parse_put_store(pb.PutStoreRequest(store_id=U1, business_id=U2, name="ICA"))
    assert ok.timezone == "Europe/Stockholm"
    for tz in ("Mars/Olympus", "../../etc/passwd", "Europe/Stockholm\x00", "x" * 70):
        req = pb.PutStoreRequest(store_id=U1, business_id=U2, name="ICA", timezone=tz)
        assert violated(v.parse_put_store, req) == ["timezone"]
    assert violated(v.parse_put_store, pb.PutStoreRequest(store_id=U1, business_id=U2, name=" ")) == ["name"]


def test_verification_rules() -> None:
    req = pb.PutVerificationRequest(
        customer_verification_id=U1, store_id=U2, phone_number="+46701234567", purchase_amount="249.50"
    )
    assert violated(v.parse_put_verification, req) == ["purchase_time"]
    req.purchase_time.FromDatetime(dt.datetime(2026, 11, 20, 12, 0))
    assert str(v.parse_put_verification(req).purchase_amount) == "249.50"
    for amount in ("-1", "1.234", "abc", "1e5", ""):
        req.purchase_amount = amount
        assert violated(v.parse_put_verification, req) == ["purchase_amount"]


def test_timestamp_out_of_range() -> None:
    req = pb.DispatchCallRequest(customer_verification_id=U1, store_id=U2, phone_number="+46701234567")
    req.not_before.seconds = 2**62
    assert violated(v.parse_dispatch, req) == ["not_before"]


# ---------------------------------------------------------------- generated requests

_json = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
_interesting_strings = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [U1, U2, "+46701234567", "2026-11-23", "Europe/Stockholm", "12.50", "WyIyMDMwIiwgIngiXQ=="]
    ),
)


def _value(draw: st.DrawFn) -> struct_pb2.Value:
    value = struct_pb2.Value()
    data = draw(_json)
    if data is None:
        if draw(st.booleans()):
            value.null_value = struct_pb2.NULL_VALUE
        return value
    wrapper = struct_pb2.ListValue()
    wrapper.append(data)
    value.CopyFrom(wrapper.values[0])
    return value


@st.composite
def requests(draw: st.DrawFn, cls: type[Message]) -> Message:
    msg = cls()
    for field in cls.DESCRIPTOR.fields:
        if not draw(st.booleans()):
            continue
        name = field.name
        if field.message_type is not None and field.message_type.full_name == "google.protobuf.Timestamp":
            ts = timestamp_pb2.Timestamp(
                seconds=draw(st.integers(-(2**40), 2**40)), nanos=draw(st.integers(-5, 10**9 + 5))
            )
            getattr(msg, name).CopyFrom(ts)
        elif field.message_type is not None and field.message_type.full_name == "google.protobuf.Value":
            getattr(msg, name).CopyFrom(_value(draw))
        elif field.type == descriptor.FieldDescriptor.TYPE_STRING and hasattr(getattr(msg, name), "extend"):
            getattr(msg, name).extend(draw(st.lists(_interesting_strings, max_size=4)))
        elif field.type == descriptor.FieldDescriptor.TYPE_STRING:
            setattr(msg, name, draw(_interesting_strings))
        elif field.type == descriptor.FieldDescriptor.TYPE_BOOL:
            setattr(msg, name, draw(st.booleans()))
        elif field.type in (descriptor.FieldDescriptor.TYPE_INT32, descriptor.FieldDescriptor.TYPE_ENUM):
            setattr(msg, name, draw(st.integers(-(2**31), 2**31 - 1)))
    return msg


PARSERS: list[tuple[type[Message], Callable[[Any], Any]]] = [
    (pb.DispatchCallRequest, v.parse_dispatch),
    (pb.GetCallRequest, v.parse_session_id),
    (pb.ListCallsRequest, v.parse_list_calls),
    (pb.GetAssessmentRequest, v.parse_assessment),
    (pb.PutBusinessContextRequest, v.parse_put_business_context),
    (pb.GetWeeklyReportRequest, v.parse_week),
    (pb.ListFraudResultsRequest, v.parse_list_fraud),
    (pb.ReviewFraudResultRequest, v.parse_review),
    (pb.EraseCustomerDataRequest, v.parse_erase),
    (pb.PutStoreRequest, v.parse_put_store),
    (pb.PutVerificationRequest, v.parse_put_verification),
    (pb.ListRewardsRequest, business_args.parse_list_rewards),
    (pb.SettleRewardsRequest, business_args.parse_settle),
    (pb.GetRewardTotalsRequest, lambda r: business_args.parse_period(r, dt.datetime.now(dt.UTC))),
    (pb.GetStoreStatisticsRequest, lambda r: business_args.parse_period(r, dt.datetime.now(dt.UTC))),
    (pb.ListWeeklyReportsRequest, business_args.parse_list_reports),
]


@pytest.mark.parametrize(("cls", "parse"), PARSERS, ids=[c.__name__ for c, _ in PARSERS])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_requests_only_ever_raise_field_violations(
    cls: type[Message], parse: Callable[[Any], Any], data: st.DataObject
) -> None:
    req = data.draw(requests(cls))
    try:
        parse(req)
    except FieldViolations as exc:
        names = {f.name for f in cls.DESCRIPTOR.fields}
        assert all(field.split("[")[0].split(".")[0] in names for field, _ in exc.violations)
