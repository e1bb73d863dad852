"""Call-backs to our number: the request read, the decision, the TwiML."""

from __future__ import annotations

import pytest

from engine.errors import ValidationError
from engine.telephony.inbound import (
    Decision,
    Kind,
    Waiting,
    decide,
    message_twiml,
    opted_out_twiml,
    parse_voice_webhook,
)

SID = "CA" + "0" * 32
PARAMS = {"CallSid": SID, "From": "+46701740605", "To": "+46850000000", "Direction": "inbound"}


def test_reads_the_voice_webhook_and_refuses_bad_fields() -> None:
    call = parse_voice_webhook(PARAMS)
    assert (call.call_sid, call.from_number, call.to_number) == (SID, "+46701740605", "+46850000000")
    for field, value in (
        ("CallSid", "nope"),
        ("From", "anonymous"),
        ("To", ""),
        ("Direction", "outbound-api"),
    ):
        with pytest.raises(ValidationError) as info:
            parse_voice_webhook({**PARAMS, field: value})
        assert info.value.field == field


def test_decision() -> None:
    waiting = Waiting("s1", "store", 2)
    assert decide(waiting=waiting, opted_out=False, free_slot=True) == Decision(Kind.INTERVIEW, waiting)
    assert decide(waiting=waiting, opted_out=False, free_slot=False).kind is Kind.MESSAGE
    assert decide(waiting=None, opted_out=False, free_slot=True) == Decision(Kind.MESSAGE)
    opted = decide(waiting=waiting, opted_out=True, free_slot=True)
    assert opted.kind is Kind.MESSAGE and not opted.offer_opt_out


def test_the_message_says_who_called_why_and_how_to_opt_out() -> None:
    xml = message_twiml(opt_out_digit="9", gather_url="https://h.example/voice")
    assert "AI-assistent" in xml and "butiken" in xml and "frågor" in xml
    assert '<Gather action="https://h.example/voice" method="POST" numDigits="1"' in xml
    assert "tryck nio" in xml and xml.endswith("<Hangup /></Response>")
    quiet = message_twiml(opt_out_digit="9", gather_url=None, offer_opt_out=False)
    assert "Gather" not in quiet and "inte uppringd igen" in quiet
    assert "Hangup" in opted_out_twiml()
