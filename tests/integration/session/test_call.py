"""Full calls through a CallHost against the Twilio and OpenAI emulators (real sockets, no Ray, no DB)."""

from __future__ import annotations

from engine.domain import FailureReason, MessageType, SessionStatus, Speaker
from tests.integration.session.conftest import RigFactory, session_settings

ANNA = "+46701740605"
PHONE = "+46701749001"


def _scenario(**fields: object) -> dict[str, object]:
    return {"name": "t", "phone": PHONE, **fields}


async def test_full_call_transcript_matches_the_scenario(rig: RigFactory, no_leaks: None) -> None:
    r = await rig()
    outcome = await r.call("sess-anna", ANNA)
    record = await r.twilio.calls_to(ANNA)[-1].wait_ended(timeout_s=10)
    assert outcome.status is SessionStatus.COMPLETED, outcome
    assert not outcome.retry_due and outcome.failure_reason is None
    lines = r.store.lines("sess-anna")
    customer = [line.content for line in lines if line.speaker is Speaker.CUSTOMER]
    ai = [line.content for line in lines if line.speaker is Speaker.AI]
    # Every customer utterance came through the text-in-audio codec intact and in order.
    assert customer == record.customer_said[: len(customer)] and len(customer) >= 3
    log = r.openai.sessions[-1]
    # Every spoken line stored once, in order (responses that only called a tool said nothing).
    assert ai == [resp.text for resp in log.responses if resp.text]
    assert [line.message_order for line in lines] == list(range(1, len(lines) + 1))
    assert [line.timestamp_ms for line in lines] == sorted(line.timestamp_ms for line in lines)
    assert lines[0].message_type is MessageType.SYSTEM and "Matboden Solna Centrum" in lines[0].content
    assert "AI-assistent" in lines[0].content
    assert any(line.message_type is MessageType.QUESTION for line in lines)
    assert "två" in ai[-1] and "femton procent" in ai[-1]  # numbers as words, as a voice says them
    assert log.tool_calls[0][0] == "record_consent" and log.tool_calls[-1][0] == "end_call"
    consent = r.store.consents["sess-anna"][1]
    assert consent.answer.value == "granted" and consent.source.value == "tool"
    assert {u.status for _, u in r.store.progress["sess-anna"].values()} == {"answered"}
    assert r.store.status["sess-anna"] == "completed"
    assert r.store.fields["sess-anna"]["openai_session_id"] == log.session_id
    assert [e[1] for e in r.store.events["sess-anna"]] == [
        "dialling",
        "ringing",
        "connected",
        "closing",
        "completed",
    ]
    metrics = r.store.metrics["sess-anna"]
    assert metrics.packet_loss_percentage == 0.0 and metrics.bandwidth_usage_kb > 0
    assert metrics.latency_ms is not None and metrics.openai_api_latency is not None
    assert metrics.technical_errors["counts"] == {}
    assert len(r.store.flushes["sess-anna"]) >= 2  # lines went out during the call, not only at the end
    assert r.host.active == 0 and r.host.rejected == {}


async def test_barge_in_truncates_at_what_was_played(rig: RigFactory, no_leaks: None) -> None:
    r = await rig(
        scenarios=[
            _scenario(answers=[{"say": "Förlåt att jag avbryter, allt var bra.", "barge_in_ms": 1500}])
        ]
    )
    outcome = await r.call("sess-barge", PHONE)
    record = await r.twilio.calls_to(PHONE)[-1].wait_ended(timeout_s=10)
    assert outcome.status is SessionStatus.COMPLETED
    log = r.openai.sessions[-1]
    assert record.clears >= 1 and log.truncations
    cut = log.truncations[0]
    # The customer started 1500 ms into the question; VAD needs a few frames to notice.
    assert 1400 <= cut.audio_end_ms <= 2400, cut


async def test_goodbye_ends_after_the_closing(rig: RigFactory, no_leaks: None) -> None:
    r = await rig(scenarios=[_scenario(answers=["Nej tack, hej då!"])])
    outcome = await r.call("sess-bye", PHONE)
    assert outcome.status is SessionStatus.COMPLETED
    ai = [line for line in r.store.lines("sess-bye") if line.speaker is Speaker.AI]
    assert "hej då" in ai[-1].content.lower()
    assert sum(line.message_type is MessageType.QUESTION for line in ai) == 1


async def test_spoken_opt_out_is_recorded_and_never_dialled_again(rig: RigFactory, no_leaks: None) -> None:
    r = await rig(scenarios=[_scenario(answers=["Nej, ring inte igen."])])
    outcome = await r.call("sess-opt", PHONE)
    assert outcome.status is SessionStatus.ABANDONED and outcome.failure_reason is FailureReason.OPTED_OUT
    assert not outcome.retry_due and outcome.opted_out
    assert PHONE in r.store.opted_out
    again = await r.call("sess-opt-2", PHONE)
    assert again.failure_reason is FailureReason.OPTED_OUT and again.call_sid is None
    assert len(r.twilio.calls_to(PHONE)) == 1


async def test_dtmf_opt_out(rig: RigFactory, no_leaks: None) -> None:
    r = await rig(scenarios=[_scenario(answers=[{"dtmf": "9"}])])
    outcome = await r.call("sess-dtmf", PHONE)
    assert outcome.failure_reason is FailureReason.OPTED_OUT and PHONE in r.store.opted_out


async def test_silence_nudges_then_hangs_up(rig: RigFactory, no_leaks: None) -> None:
    r = await rig(scenarios=[_scenario(consent={"silence": True}, answers=[{"silence": True}] * 5)])
    outcome = await r.call("sess-quiet", PHONE)
    assert outcome.status is SessionStatus.ABANDONED and outcome.failure_reason is None
    assert ("reminder",) in [resp.keys for resp in r.openai.sessions[-1].responses]
    # No consent was ever given: nothing of the call is kept but the consent record.
    assert r.store.lines("sess-quiet") == []
    assert r.store.consents["sess-quiet"][1].answer.value == "no_answer"


async def test_maximum_duration(rig: RigFactory, no_leaks: None) -> None:
    r = await rig(session=session_settings(max_call_seconds=0.4), scenarios=[_scenario(answers=["Ja."] * 5)])
    outcome = await r.call("sess-max", PHONE)
    assert outcome.status is SessionStatus.COMPLETED
    assert not any("procent" in line.content for line in r.store.lines("sess-max"))
    assert r.store.lines("sess-max") == []  # the time ran out before the consent answer: nothing kept


async def test_customer_hangs_up_early(rig: RigFactory, no_leaks: None) -> None:
    r = await rig(scenarios=[_scenario(answers=[{"say": "Jag hinner inte.", "hangup": True}])])
    outcome = await r.call("sess-hup", PHONE)
    assert outcome.status is SessionStatus.ABANDONED and not outcome.retry_due
    log = r.openai.sessions[-1]
    assert any(line.content == "Jag hinner inte." for line in r.store.lines("sess-hup")), (
        r.store.lines("sess-hup"),
        log.transcripts,
        log.speech,
        log.errors,
        log.close_reason,
    )


async def test_unanswered_calls_fail_retryably(rig: RigFactory, no_leaks: None) -> None:
    phones = {
        "+46701749011": "voicemail",
        "+46701749012": "no-answer",
        "+46701749013": "busy",
        "+46701749014": "failed",
    }
    r = await rig(
        scenarios=[
            {"name": f"s{i}", "phone": p, "attempts": [{"outcome": o, "ring_seconds": 1.0}]}
            for i, (p, o) in enumerate(phones.items())
        ]
    )
    expected = {
        "voicemail": FailureReason.VOICEMAIL,
        "no-answer": FailureReason.NO_ANSWER,
        "busy": FailureReason.BUSY,
        "failed": FailureReason.CALL_FAILED,
    }
    for i, (phone, kind) in enumerate(phones.items()):
        outcome = await r.call(f"sess-{kind}", phone, attempt=i + 1)
        assert outcome.status is SessionStatus.FAILED, (kind, outcome)
        assert outcome.failure_reason is expected[kind] and outcome.retry_due
        assert r.store.fields[f"sess-{kind}"]["failure_reason"] == expected[kind].value
    assert r.twilio.calls_to("+46701749011")[-1].status in ("completed", "canceled")
