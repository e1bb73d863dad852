from __future__ import annotations

import datetime as dt
import uuid

import pytest

from engine.domain import MessageType, Role, Speaker
from engine.errors import ValidationError
from storage.principal import Principal
from storage.records import TranscriptLine, VerificationRecord
from storage.repositories._common import decode_token, encode_token, page_size, score


def test_principal_settings() -> None:
    a, b = uuid.UUID(int=2), uuid.UUID(int=1)
    owner = Principal.store_owner(uuid.UUID(int=9), {a, b})
    assert owner.role is Role.STORE_OWNER and not owner.privileged
    assert owner.settings() == {
        "role": "store_owner",
        "user_id": str(uuid.UUID(int=9)),
        "store_ids": f"{{{b},{a}}}",
    }
    assert Principal.service().settings() == {"role": "service", "user_id": "", "store_ids": "{}"}
    assert Principal.admin(None).privileged


def test_records_never_show_personal_data() -> None:
    line = TranscriptLine(Speaker.CUSTOMER, 1, "Jag heter Anna", 10, MessageType.RESPONSE)
    assert "Anna" not in repr(line)
    now = dt.datetime.now(dt.UTC)
    rec = VerificationRecord(uuid.uuid4(), uuid.uuid4(), "+46701234567", now, 10.0, now)
    assert "+4670" not in repr(rec)


def test_score_validation() -> None:
    assert str(score("x", 0.456)) == "0.46"
    assert score("x", None) is None
    for bad in (-0.01, 1.01, float("nan"), float("inf")):
        with pytest.raises(ValidationError) as info:
            score("depth_score", bad)
        assert info.value.field == "depth_score"
    assert str(score("reward_percentage", 15, 2, 15)) == "15.0"
    with pytest.raises(ValidationError):
        score("reward_percentage", 1.99, 2, 15)


def test_page_token_roundtrip_and_garbage() -> None:
    at, rid = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC), uuid.uuid4()
    assert decode_token(encode_token(at, rid)) == (at, rid)
    for junk in ("", "abc", "!!!", encode_token(at, rid)[:-3]):
        with pytest.raises(ValidationError) as info:
            decode_token(junk)
        assert info.value.field == "page_token"
    with pytest.raises(ValidationError):
        page_size(0)
    with pytest.raises(ValidationError):
        page_size(501)
