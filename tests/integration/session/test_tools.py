"""The tool contract through a CallHost against the paraphrasing emulator: consent, languages, progress,
and models that misbehave (no tools, end_call early, speech after end_call, bad arguments, split goodbye)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import aiohttp
import pytest

from engine.domain import FailureReason, SessionStatus, Speaker
from engine.emulators.openai import ModelBehaviour
from engine.session.control import ConsentAnswer, ConsentRecord, ProgressUpdate, Source
from engine.session.store import MemorySessionStore
from engine.telephony.inbound import Waiting
from engine.telephony.twiml import http_base
from tests.integration.session.conftest import RigFactory, session_settings

PHONE = "+46701749101"
ANSWERS = [
    "Frukt och grönt var fräscht och välsorterat, särskilt äpplena.",
    "Chark hade ett bra utbud men lite dyrt den här veckan.",
    "Kassan gick snabbt och personalen var trevlig.",
]


def _scenario(**fields: Any) -> dict[str, Any]:
    return {"name": "t", "phone": PHONE, **fields}


def _spoken(r: Any, sid: str, speaker: Speaker) -> list[str]:
    return [line.content for line in r.store.lines(sid) if line.speaker is speaker]


@pytest.mark.parametrize(
    "behaviour",
    [
        ModelBehaviour(tools=False),
        ModelBehaviour(end_call_during_audio=True),
        ModelBehaviour(speaks_after_end_call=True),
        ModelBehaviour(bad_arguments=True),
        ModelBehaviour(split_goodbye=True),
    ],
    ids=[
        "never-calls-a-tool",
        "end-call-during-audio",
        "speaks-after-end-call",
        "bad-arguments",
        "split-goodbye",
    ],
)
async def test_every_answered_interview_completes_whatever_the_model_does(
    rig: RigFactory, no_leaks: None, behaviour: ModelBehaviour
) -> None:
    # The long silence timer is out of reach: only end_call or the short closing silence can end it.
    # (Twilio's TimeLimit, max_call_seconds + 60, counts emulated seconds: keep it out of reach too.)
    session = session_settings(
        silence_nudge_seconds=30.0, silence_hangup_seconds=60.0, max_call_seconds=100.0
    )
    scenario = _scenario(answers=ANSWERS, goodbye="Tack, hej då!")
    r = await rig(scenarios=[scenario], openai={"behaviour": behaviour}, session=session)
    outcome = await r.call("s", PHONE)
    record = await r.twilio.calls_to(PHONE)[-1].wait_ended(timeout_s=10)
    assert outcome.status is SessionStatus.COMPLETED and outcome.failure_reason is None, (outcome, record)
    log = r.openai.sessions[-1]
    spoken = [resp.text for resp in log.responses if resp.text and resp.keys != ("after_end",)]
    # Every line the customer heard is stored once, in order; a line said after end_call is neither.
    assert _spoken(r, "s", Speaker.AI) == spoken
    assert record.customer_heard == spoken
    assert _spoken(r, "s", Speaker.CUSTOMER) == record.customer_said[: len(_spoken(r, "s", Speaker.CUSTOMER))]
    assert "femton procent" in spoken[-1]  # the goodbye was heard in full before the line went down
    consent = r.store.consents["s"][1]
    assert consent.answer is ConsentAnswer.GRANTED
    assert consent.source is (Source.INFERRED if not behaviour.tools else Source.TOOL)
    assert len(r.store.progress["s"]) >= 2


async def test_a_refusal_is_let_go_with_only_the_consent_record(rig: RigFactory, no_leaks: None) -> None:
    r = await rig(scenarios=[_scenario(consent="Nej tack, det vill jag inte.")])
    outcome = await r.call("s", PHONE)
    assert outcome.status is SessionStatus.ABANDONED and outcome.failure_reason is FailureReason.DECLINED
    assert not outcome.retry_due
    assert r.store.lines("s") == []  # nothing of the conversation is kept
    record = r.store.consents["s"][1]
    assert (record.answer, record.source) == (ConsentAnswer.DECLINED, Source.TOOL)
    assert record.asked_at is not None and record.answered_at is not None
    assert record.answered_at >= record.asked_at
    heard = r.twilio.calls_to(PHONE)[-1].customer_heard
    assert len(heard) == 2 and "?" not in heard[1]  # the opening, then a goodbye: no question


async def test_english_continues_in_english_and_other_languages_end_politely(
    rig: RigFactory, no_leaks: None
) -> None:
    english = "+46701749102"
    r = await rig(
        scenarios=[
            _scenario(consent="Yes, that's fine. Sorry, I only speak English.", persona="english"),
            {"name": "de", "phone": english, "consent": "Entschuldigung, ich spreche kein Schwedisch."},
        ]
    )
    outcome = await r.call("en", PHONE)
    assert outcome.status is SessionStatus.COMPLETED
    customer = [ln for ln in r.store.lines("en") if ln.speaker is Speaker.CUSTOMER]
    assert customer and all(ln.language_detected == "en" for ln in customer)
    assert all(ln.confidence_score is not None for ln in customer)  # logprobs were asked for
    assert "percent" in _spoken(r, "en", Speaker.AI)[-1]
    outcome = await r.call("de", english)
    assert (
        outcome.failure_reason is FailureReason.LANGUAGE_BARRIER and outcome.status is SessionStatus.ABANDONED
    )


async def test_wrong_person_and_callback(rig: RigFactory, no_leaks: None) -> None:
    other = "+46701749103"
    r = await rig(
        scenarios=[
            _scenario(consent="Fel nummer, det är inte jag."),
            {"name": "cb", "phone": other, "consent": "Det passar inte nu, ring i morgon."},
        ]
    )
    wrong = await r.call("w", PHONE)
    assert (wrong.status, wrong.failure_reason) == (SessionStatus.ABANDONED, FailureReason.WRONG_PERSON)
    callback = await r.call("c", other)
    assert (callback.status, callback.failure_reason) == (
        SessionStatus.FAILED,
        FailureReason.CALLBACK_REQUESTED,
    )
    assert callback.retry_due and callback.callback_after_seconds == 24 * 3600
    # The requested time is stored with the failed status (it outlives a lost outcome).
    stored = r.store.fields["c"]
    assert stored["next_attempt_at"] - stored["call_ended_at"] == dt.timedelta(hours=24)


async def test_a_retry_continues_the_interview(rig: RigFactory, no_leaks: None) -> None:
    r = await rig(scenarios=[_scenario(answers=ANSWERS[1:], goodbye="Hej då!")])
    first_question = "extra-1"  # the store has no configured questions: departments fill in
    # What attempt 1 got through before the line dropped: consent asked and one question answered.
    when = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)
    await r.store.record_consent(
        "s", 1, ConsentRecord("v", ConsentAnswer.GRANTED, Source.TOOL, asked_at=when, answered_at=when)
    )
    await r.store.record_progress("s", 1, ProgressUpdate(first_question, "answered", Source.TOOL))
    outcome = await r.call("s", PHONE, attempt=2)
    assert outcome.status is SessionStatus.COMPLETED
    log = r.openai.sessions[-1]
    assert '"redan_besvarade": ["extra-1"]' in log.session_updates[0]["instructions"]
    ai = _spoken(r, "s", Speaker.AI)
    assert "AI-assistent" in ai[0]  # every attempt discloses again
    assert any("bröts" in line or "avbrutna" in line for line in ai)
    asked = [name for name, args in log.tool_calls if name == "question_answered"]
    assert len(asked) == 1 and first_question not in "".join(a for _, a in log.tool_calls)
    assert r.store.consents["s"][2].answer is ConsentAnswer.GRANTED


async def test_call_backs_to_our_number(rig: RigFactory, no_leaks: None) -> None:
    waiting, curious = "+46701749104", "+46701749105"
    r = await rig(
        scenarios=[
            {"name": "back", "phone": waiting, "answers": ANSWERS, "goodbye": "Hej då!"},
            {"name": "curious", "phone": curious, "call_back_dtmf": "9"},
        ]
    )
    assert isinstance(r.store, MemorySessionStore)
    voice = http_base(r.host.public_url) + "/voice"
    our_number = r.host.settings.twilio.from_number
    # A customer whose verification still waits for its retry gets the interview itself.
    r.store.waiting[waiting] = Waiting("s-back", "grocery-solna", 2)
    record = await r.twilio.place_inbound_call(from_=waiting, to=our_number, voice_url=voice)
    outcome = await r.outcome()
    await record.wait_ended(timeout_s=10)
    assert outcome.session_id == "s-back" and outcome.attempt == 2 and outcome.call_sid == record.sid
    assert outcome.status is SessionStatus.COMPLETED, (outcome, record)
    assert record.direction == "inbound" and record.stream_url and "AI-assistent" in record.customer_heard[0]
    assert r.store.consents["s-back"][2].answer is ConsentAnswer.GRANTED
    # Anyone else hears who called and why, and may opt out by keypad.
    record = await r.twilio.place_inbound_call(from_=curious, to=our_number, voice_url=voice)
    await record.wait_ended(timeout_s=10)
    assert record.stream_url is None and "AI-assistent" in record.said_by_app[0]
    assert record.digits_pressed == ["9"] and curious in r.store.opted_out
    assert "inte igen" in record.said_by_app[-1]
    # A forged request is refused.
    async with aiohttp.ClientSession() as http:
        form = {"CallSid": "CA" + "0" * 32, "From": curious, "To": our_number, "Direction": "inbound"}
        async with http.post(voice, data=form, headers={"X-Twilio-Signature": "forged"}) as response:
            assert response.status == 403
    assert r.host.rejected["forged_signature"] == 1
