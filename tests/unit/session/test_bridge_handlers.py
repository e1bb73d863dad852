"""What each Twilio frame and Realtime event does to the bridge: metrics, frames sent, state kept."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from engine.clock import VirtualClock
from engine.domain import MessageType, Speaker
from engine.session import language
from engine.session.bridge import Bridge
from engine.session.bridge_events import RENEW_MARGIN_SECONDS
from engine.session.prompt import REMINDER_INSTRUCTIONS
from engine.session.state import Event
from tests.unit.session.bridge_helpers import PAYLOAD, Model, ev, make_bridge, sent_to_realtime


def _clock(b: Bridge) -> VirtualClock:
    assert isinstance(b.clock, VirtualClock)
    return b.clock


def _twilio(b: Bridge) -> list[dict[str, object]]:
    out = []
    while b.to_twilio.qsize():
        out.append(json.loads(b.to_twilio.get_nowait()))
    return out


def _frame(**fields: object) -> str:
    return json.dumps({"streamSid": "MZ1", **fields})


async def test_api_latency_is_measured_per_request_kind() -> None:
    b, _ = await make_bridge()
    b.api_sent("session")
    b.api_sent("response")
    await _clock(b).advance(0.25)
    b.on_realtime_event(ev("session.updated", session={"id": "sess_1"}))
    await _clock(b).advance(0.25)
    m = Model(b)
    m.created("r1")
    assert b.metrics.api_latencies_ms == [250.0, 500.0]
    m.created("r2")  # nothing pending: nothing measured
    b.on_realtime_event(ev("session.updated", session={"id": "sess_1"}))
    assert b.metrics.api_latencies_ms == [250.0, 500.0]
    # session.created is not an answer to a request of ours.
    b.api_sent("session")
    b.on_realtime_event(ev("session.created", session={"id": "sess_2"}))
    assert b.metrics.api_latencies_ms == [250.0, 500.0]
    assert b.openai_session_ids == ["sess_1", "sess_2"]


async def test_a_session_expiry_sets_the_renewal_time_and_margin() -> None:
    b, _ = await make_bridge()
    clock = _clock(b)
    b.on_realtime_event(ev("session.created", session={"id": "s", "expires_at": int(time.time()) + 3600}))
    assert b.realtime_expires_at is not None
    assert abs(b.realtime_expires_at - (clock.monotonic() + 3600)) < 2
    assert b.renew_margin == RENEW_MARGIN_SECONDS == 120.0
    b.on_realtime_event(ev("session.updated", session={"id": "s", "expires_at": int(time.time()) + 200}))
    assert 49 <= b.renew_margin <= 50  # a quarter of a short lifetime
    before = b.realtime_expires_at
    b.on_realtime_event(ev("session.updated", session={"id": "s", "expires_at": int(time.time()) - 5}))
    assert b.realtime_expires_at == before  # already past: ignored
    assert b.openai_session_ids == ["s"]


async def test_a_reminder_is_asked_for_and_is_not_a_question() -> None:
    b, _ = await make_bridge()
    m = Model(b)
    m.turn("r1", "a1", "Hej! Går det bra?")
    b.request_reminder()
    assert sent_to_realtime(b) == [
        {"type": "response.create", "response": {"instructions": REMINDER_INSTRUCTIONS}}
    ]
    m.created("r2")
    m.speak("r2", "a2", "Är du kvar?")
    m.done("r2")
    # The next response is an ordinary one again.
    m.created("r3")
    m.speak("r3", "a3", "Vad tyckte du om kassan?")
    m.done("r3")
    kinds = {line.content: line.message_type for line in b.transcript.conversation()}
    assert kinds == {
        "Hej! Går det bra?": MessageType.SYSTEM,  # the opening
        "Är du kvar?": MessageType.SYSTEM,
        "Vad tyckte du om kassan?": MessageType.QUESTION,
    }


async def test_a_reminders_audio_does_not_restart_the_silence_timers() -> None:
    b, _ = await make_bridge()
    m = Model(b)
    b.request_reminder()
    m.created("r1")
    m.speak("r1", "a1", "Är du kvar?")
    assert not b._ai_busy
    m.created("r2")
    m.speak("r2", "a2", "Fråga?")
    assert b._ai_busy


async def test_what_needs_a_response_after_a_restored_socket() -> None:
    b, _ = await make_bridge()
    assert b.needs_response_after_restore()  # nothing said yet: the opening
    m = Model(b)
    m.turn("r1", "a1", "Hej!")
    assert not b.needs_response_after_restore()
    m.customer("u1", "Hej hej")
    assert b.needs_response_after_restore()  # the customer's turn is unanswered
    m.created("r2")
    m.speak("r2", "a2", "Bra!")
    assert b.needs_response_after_restore()  # a response was under way


async def test_a_lost_socket_with_the_goodbye_done_ends_the_call() -> None:
    b, _ = await make_bridge()
    m = Model(b)
    m.created("r1")
    m.call("r1", "end_call", {"reason": "completed"})
    assert b.end_event is None
    b.on_realtime_lost()  # no response.done will come for it
    assert b.end_event is Event.INTERVIEW_DONE


async def test_a_lost_socket_forgets_unanswered_requests() -> None:
    b, _ = await make_bridge()
    b.api_sent("response")
    b.on_realtime_lost()
    await _clock(b).advance(1.0)
    Model(b).created("r1")
    assert b.metrics.api_latencies_ms == []


async def test_the_stop_frame_commits_what_was_said_last_or_ends_a_decided_call() -> None:
    b, _ = await make_bridge()
    b.on_twilio_frame(_frame(event="stop", stop={"accountSid": "AC", "callSid": "CA"}))
    assert sent_to_realtime(b) == [{"type": "input_audio_buffer.commit"}]
    assert b.final_words is not None and not b.final_words.is_set() and b.end_event is None
    # The transcription of the last words sets it.
    b.on_realtime_event(ev("input_audio_buffer.committed", item_id="u9"))
    b.on_realtime_event(
        ev("conversation.item.input_audio_transcription.failed", item_id="u9", content_index=0, error={})
    )
    assert b.final_words.is_set()
    assert b.metrics.errors == {"transcription_failed": 1}
    c, _ = await make_bridge()
    Model(c).created("r1")
    Model(c).call("r1", "end_call", {"reason": "wrong_person"})
    c.on_twilio_frame(_frame(event="stop", stop={"accountSid": "AC", "callSid": "CA"}))
    assert c.end_event is Event.WRONG_PERSON and c.final_words is None


async def test_an_error_event_ends_a_wait_for_final_words_and_is_counted_unless_expected() -> None:
    b, _ = await make_bridge()
    b.on_twilio_frame(_frame(event="stop", stop={}))
    assert b.final_words is not None
    b.on_realtime_event(
        ev("error", error={"type": "invalid_request_error", "code": "input_audio_buffer_commit_empty"})
    )
    assert b.final_words.is_set() and b.metrics.errors == {}
    for code in (
        "response_cancel_not_active",
        "item_truncate_invalid_item_id",
        "conversation_already_has_active_response",
    ):
        b.on_realtime_event(ev("error", error={"type": "invalid_request_error", "code": code}))
    assert b.metrics.errors == {}
    b.on_realtime_event(ev("error", error={"type": "server_error", "code": None}))
    b.on_realtime_event(ev("error", error={"type": "invalid_request_error", "code": "x" * 80}))
    assert b.metrics.errors == {"realtime_error_server_error": 1, ("realtime_error_" + "x" * 80)[:60]: 1}


async def test_session_expired_expects_a_renewal_and_is_no_fault() -> None:
    b, _ = await make_bridge()
    b.on_realtime_event(ev("error", error={"type": "invalid_request_error", "code": "session_expired"}))
    assert b.metrics.errors == {} and b._renew


async def test_mark_echoes_measure_latency_and_end_the_ai_turn() -> None:
    b, _ = await make_bridge()
    m = Model(b)
    clock = _clock(b)
    m.created("r1")
    m.speak("r1", "a1", "Hej!")
    await clock.advance(0.2)
    m.heard()
    assert b.metrics.mark_latencies_ms == [pytest.approx(200.0)]  # only the start mark's round trip
    assert not b._ai_busy
    # An unknown or repeated mark does nothing.
    b.on_twilio_frame(_frame(event="mark", mark={"name": "nope"}))
    assert b.metrics.mark_latencies_ms == [pytest.approx(200.0)]


async def test_turn_latency_is_from_the_end_of_speech_to_the_first_audio() -> None:
    b, _ = await make_bridge()
    clock = _clock(b)
    b.on_realtime_event(ev("input_audio_buffer.speech_started", item_id="u1", audio_start_ms=0))
    b.on_realtime_event(ev("input_audio_buffer.speech_stopped", item_id="u1", audio_end_ms=900))
    await clock.advance(0.7)
    m = Model(b)
    m.created("r1")
    m.speak("r1", "a1", "Svar")
    m.speak("r1", "a1b", "Mer")  # a second item of the same turn is not measured again
    assert b.metrics.turn_latencies_ms == [pytest.approx(700.0)]


async def test_only_assistant_items_are_kept_and_the_first_starts_the_opening() -> None:
    b, _ = await make_bridge()
    clock = _clock(b)
    await clock.advance(2.0)
    b.on_realtime_event(
        ev(
            "response.output_item.added",
            response_id="r1",
            output_index=0,
            item={"id": "fc1", "type": "function_call"},
        )
    )
    b.on_realtime_event(
        ev(
            "response.output_item.added",
            response_id="r1",
            output_index=0,
            item={"type": "message", "role": "assistant"},
        )
    )
    assert b.control._asked_at is None and b.transcript.conversation() == []
    m = Model(b)
    m.speak("r1", "a1", "Hej!")
    assert b.control._asked_at == clock.now()
    m.done("r1")
    (line,) = b.transcript.conversation()
    assert (line.speaker, line.content, line.timestamp_ms, line.message_type) == (
        Speaker.AI,
        "Hej!",
        2000,
        MessageType.SYSTEM,
    )


async def test_tool_calls_are_counted_by_name() -> None:
    b, _ = await make_bridge()
    m = Model(b)
    m.created("r1")
    m.call("r1", "record_consent", {"consent": True})
    m.call("r1", "question_answered", {"question_id": "nope"})
    assert b.metrics.conversation == {"tool_record_consent": 1, "tool_call_rejected": 1}


async def test_a_cancelled_response_gets_no_follow_up() -> None:
    b, _ = await make_bridge()
    m = Model(b)
    m.created("r1")
    m.call("r1", "record_consent", {"consent": True})
    sent_to_realtime(b)
    m.done("r1", status="cancelled")
    assert sent_to_realtime(b) == []
    m.created("r2")
    m.call("r2", "record_consent", {"consent": True}, call_id="c2")
    sent_to_realtime(b)
    b.on_realtime_event(ev("response.done", response={"id": "r2"}))  # no status: completed
    assert sent_to_realtime(b) == [{"type": "response.create"}]


async def test_barge_in_without_an_active_response_only_truncates() -> None:
    b, _ = await make_bridge()
    m = Model(b)
    m.created("r1")
    m.speak("r1", "a1", "En lång mening", chunks=50)
    m.done("r1")  # the response is done; its audio still plays
    sent_to_realtime(b)
    b.on_realtime_event(ev("input_audio_buffer.speech_started", item_id="u1", audio_start_ms=0))
    sent = sent_to_realtime(b)
    assert [s["type"] for s in sent] == ["conversation.item.truncate"]
    assert b.barge_ins == [("a1", sent[0]["audio_end_ms"])]
    # Nothing playing: speech is no barge-in.
    b.on_realtime_event(ev("input_audio_buffer.speech_started", item_id="u2", audio_start_ms=0))
    assert sent_to_realtime(b) == [] and len(b.barge_ins) == 1


async def test_customer_lines_keep_their_start_time_confidence_and_language() -> None:
    b, _ = await make_bridge()
    clock = _clock(b)
    await clock.advance(1.5)
    b.on_realtime_event(ev("input_audio_buffer.speech_started", item_id="u1", audio_start_ms=0))
    await clock.advance(2.0)
    b.on_realtime_event(ev("input_audio_buffer.committed", item_id="u1"))
    b.on_realtime_event(
        ev(
            "conversation.item.input_audio_transcription.completed",
            item_id="u1",
            content_index=0,
            transcript="  Det var bra.  ",
            languages=[{"code": "en"}],
            logprobs=[{"token": "a", "logprob": 0.0, "bytes": []}],
        )
    )
    (line,) = b.transcript.conversation()
    assert (line.content, line.timestamp_ms, line.message_type, line.language_detected) == (
        "Det var bra.",
        1500,
        MessageType.RESPONSE,
        "en",
    )
    assert line.confidence_score == 1.0
    assert b.metrics.customer_lines == 1 and b.metrics.language_drift == 1
    # No language said and no detector: Swedish, no drift.
    b.on_realtime_event(
        ev(
            "conversation.item.input_audio_transcription.completed",
            item_id="u2",
            content_index=0,
            transcript="Ja",
        )
    )
    assert b.transcript.conversation()[-1].language_detected == "sv" and b.metrics.language_drift == 1


async def test_a_customer_round_is_counted_only_after_the_ai_spoke() -> None:
    b, _ = await make_bridge()
    m = Model(b)
    m.customer("u0", "Hallå?")  # before the AI said anything: no round
    assert b.control.rounds == 0
    m.turn("r1", "a1", "Hej!")
    m.customer("u1", "Hej")
    m.customer("u2", "")  # an empty transcription is no round either
    m.customer("u3", "Jaha")  # still the same round: the AI has not spoken since
    assert b.control.rounds == 1


async def test_a_spoken_opt_out_is_counted_and_waits_for_the_goodbye() -> None:
    b, probe = await make_bridge()
    m = Model(b)
    m.turn("r1", "a1", "Hej!")
    m.customer("u1", "Ring inte igen!")
    assert b.metrics.conversation["spoken_opt_out"] == 1
    assert b.pending_end is Event.OPTED_OUT and b.end_event is None
    await b.finish_side_tasks()
    assert probe.opted == ["x"]
    m.turn("r2", "a2", "Jag förstår, hej då!")  # the next response is the goodbye
    assert b.end_event is Event.OPTED_OUT


async def test_hang_up_and_silence_mean_what_the_interview_reached() -> None:
    b, _ = await make_bridge()
    assert b.hang_up_event() is Event.CUSTOMER_HUNG_UP and b.silence_event() is Event.SILENCE_TIMEOUT
    m = Model(b)
    m.created("r1")
    m.call("r1", "question_answered", {"question_id": "qa"})
    assert b.silence_event() is Event.INTERVIEW_DONE and b.hang_up_event() is Event.CUSTOMER_HUNG_UP
    m.call("r1", "question_answered", {"question_id": "qb"})
    assert b.hang_up_event() is Event.HUNG_UP_AFTER_INTERVIEW
    c, _ = await make_bridge()
    n = Model(c)
    n.created("r1")
    n.call("r1", "record_consent", {"consent": False})
    assert c.hang_up_event() is Event.CUSTOMER_HUNG_UP


async def test_bad_media_frames_are_counted_and_outbound_media_ignored() -> None:
    b, _ = await make_bridge()
    media = {"track": "outbound", "chunk": "1", "timestamp": "20", "payload": PAYLOAD}
    assert not b.on_twilio_frame(_frame(event="media", sequenceNumber="2", media=media))
    assert b.metrics.errors == {}
    bad_ts = {**media, "track": "inbound", "timestamp": "soon"}
    assert not b.on_twilio_frame(_frame(event="media", sequenceNumber="2", media=bad_ts))
    assert b.metrics.errors == {"twilio_invalid": 1}
    assert not b.on_twilio_frame(_frame(event="start", start={"streamSid": "MZ1", "callSid": "CA1"}))
    assert b.metrics.errors == {"twilio_invalid": 1, "twilio_unexpected_start": 1}


async def test_only_the_opt_out_key_opts_out() -> None:
    b, probe = await make_bridge()
    b.on_twilio_frame(_frame(event="dtmf", dtmf={"digit": "1"}))
    assert b.end_event is None
    await asyncio.sleep(0)
    assert probe.opted == []


# ---------------------------------------------------------------------- logs, error times, ordering, fallbacks


async def test_what_the_handlers_log_names_the_kind_never_the_words(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="t")
    b, _ = await make_bridge()
    b.on_twilio_frame("{nope")
    b.on_twilio_frame(_frame(event="dtmf", dtmf={"digit": "9"}))
    b.on_realtime_event(ev("error", error={"type": "server_error", "code": "boom"}))
    m = Model(b)
    m.created("r1")
    m.call("r1", "transfer_call", {})
    m.call("r1", "record_consent", {"consent": True})
    m.customer("u1", "Ring inte igen, tack")
    assert [r.getMessage() for r in caplog.records] == [
        "dropped bad twilio frame (malformed)",
        "opt-out by keypad",
        "realtime error event (boom)",
        "tool call transfer_call rejected (bad arguments)",
        "opt-out by voice",
    ]


async def test_a_barge_in_is_logged_with_the_played_time(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="t")
    b, _ = await make_bridge()
    m = Model(b)
    m.created("r1")
    m.speak("r1", "a1", "En lång mening", chunks=50)
    b.on_realtime_event(ev("input_audio_buffer.speech_started", item_id="u1", audio_start_ms=0))
    ((_item, played),) = b.barge_ins
    assert [r.getMessage() for r in caplog.records] == [f"barge-in: truncated the AI at {played} ms"]


async def test_error_events_keep_when_in_the_call_they_happened() -> None:
    b, _ = await make_bridge()
    clock = _clock(b)
    await clock.advance(1.0)
    b.on_twilio_frame("{nope")
    await clock.advance(1.0)
    b.on_realtime_event(
        ev("conversation.item.input_audio_transcription.failed", item_id="u1", content_index=0, error={})
    )
    await clock.advance(1.0)
    b.on_realtime_event(ev("error", error={"type": "server_error", "code": "boom"}))
    assert b.metrics.error_events == [
        {"kind": "twilio_malformed", "at_ms": 1000},
        {"kind": "transcription_failed", "at_ms": 2000},
        {"kind": "realtime_error_boom", "at_ms": 3000},
    ]
    assert b.renew_margin == RENEW_MARGIN_SECONDS


async def test_a_customer_turn_keeps_its_place_when_its_text_comes_late() -> None:
    b, _ = await make_bridge()
    clock = _clock(b)
    await clock.advance(1.0)
    b.on_realtime_event(ev("input_audio_buffer.committed", item_id="u1"))  # no speech_started seen
    await clock.advance(1.0)
    m = Model(b)
    m.created("r1")
    m.speak("r1", "a1", "Tack!")
    m.done("r1")
    assert b.transcript.take(clock.monotonic()) == []  # the customer's slot holds the AI line back
    b.on_realtime_event(
        ev(
            "conversation.item.input_audio_transcription.completed",
            item_id="u1",
            content_index=0,
            transcript="Hej",
        )
    )
    lines = b.transcript.take(clock.monotonic())
    assert [(ln.speaker, ln.content, ln.timestamp_ms) for ln in lines] == [
        (Speaker.CUSTOMER, "Hej", 1000),
        (Speaker.AI, "Tack!", 2000),
    ]


async def test_a_customer_line_without_a_commit_keeps_its_speech_start() -> None:
    b, _ = await make_bridge()
    clock = _clock(b)
    await clock.advance(1.5)
    b.on_realtime_event(ev("input_audio_buffer.speech_started", item_id="u1", audio_start_ms=0))
    await clock.advance(2.0)
    done = "conversation.item.input_audio_transcription.completed"
    b.on_realtime_event(ev(done, item_id="u1", content_index=0, transcript="Ja", languages=[{"code": "de"}]))
    b.on_realtime_event(ev(done, item_id="u2", content_index=0, transcript="Nej", languages=[{"code": "fi"}]))
    lines = b.transcript.take(clock.monotonic())
    assert [(ln.content, ln.timestamp_ms) for ln in lines] == [
        ("Ja", 1500),
        ("Nej", 3500),
    ]  # u2: when it came
    assert b.metrics.customer_lines == 2 and b.metrics.language_drift == 2


async def test_an_ai_item_still_silent_holds_the_transcript_back() -> None:
    b, _ = await make_bridge()
    b.on_realtime_event(
        ev(
            "response.output_item.added",
            response_id="r1",
            output_index=0,
            item={"id": "a1", "type": "message", "role": "assistant"},
        )
    )
    assert b.transcript.take(_clock(b).monotonic()) == []
    assert b.transcript.take(_clock(b).monotonic() + 10.0) == []  # an empty slot stops holding: no line


async def test_a_function_call_is_answered_from_either_event_alone() -> None:
    for kind in ("response.function_call_arguments.done", "response.output_item.done"):
        b, _ = await make_bridge()
        Model(b).created("r1")
        args = json.dumps({"consent": True})
        if kind == "response.function_call_arguments.done":
            fields = {
                "item_id": "fc1",
                "output_index": 0,
                "call_id": "c1",
                "name": "record_consent",
                "arguments": args,
            }
        else:
            item = {
                "id": "fc1",
                "type": "function_call",
                "call_id": "c1",
                "name": "record_consent",
                "arguments": args,
            }
            fields = {"output_index": 0, "item": item}
        b.on_realtime_event(ev(kind, response_id="r1", **fields))
        (out,) = sent_to_realtime(b)
        assert out["item"]["call_id"] == "c1" and json.loads(out["item"]["output"])["ok"] is True, kind
        b.on_realtime_event(ev("response.done", response={"id": "r1", "status": "completed"}))
        assert sent_to_realtime(b) == [{"type": "response.create"}], kind  # it waits for the output
        assert b.control.consented, kind
    # A message item's done event is no call.
    c, _ = await make_bridge()
    c.on_realtime_event(
        ev(
            "response.output_item.done",
            response_id="r1",
            output_index=0,
            item={"id": "a1", "type": "message", "role": "assistant"},
        )
    )
    assert sent_to_realtime(c) == []


async def test_lines_of_the_goodbye_are_no_questions() -> None:
    b, _ = await make_bridge()
    m = Model(b)
    m.turn("r1", "a1", "Hej!")
    m.created("r2")
    m.speak("r2", "a2", "Förlåt, fel nummer. Hej då!")
    m.call("r2", "end_call", {"reason": "wrong_person"})
    m.done("r2")
    assert b.transcript.conversation()[-1].message_type is MessageType.SYSTEM


async def test_an_opt_out_by_tool_opts_out_and_progress_does_not() -> None:
    b, probe = await make_bridge()
    m = Model(b)
    m.created("r1")
    m.call("r1", "question_answered", {"question_id": "qa"})
    await b.finish_side_tasks()
    assert probe.opted == []
    m.call("r1", "end_call", {"reason": "opted_out"})
    await b.finish_side_tasks()
    assert probe.opted == ["x"]


async def test_a_cut_or_lost_turn_never_starts_the_closing_silence() -> None:
    for cut in ("barge-in", "lost"):
        b, _ = await make_bridge()
        m = Model(b)
        m.created("r1")
        m.call("r1", "question_answered", {"question_id": "qa"})
        m.call("r1", "question_answered", {"question_id": "qb"})
        m.done("r1")
        m.created("r2")
        m.speak("r2", "a2", "Tack för dina svar", chunks=50)
        if cut == "barge-in":
            b.on_realtime_event(ev("input_audio_buffer.speech_started", item_id="u1", audio_start_ms=0))
        else:
            b.on_realtime_lost()
        assert b.control.interview_done and not b.timers.closing, cut


async def test_a_lost_socket_keeps_the_half_said_line_and_asks_for_it_again() -> None:
    b, _ = await make_bridge()
    m = Model(b)
    m.turn("r1", "a1", "Hej!")
    m.created("r2")
    b.on_realtime_event(
        ev(
            "response.output_audio_transcript.done",
            response_id="r2",
            item_id="a2",
            transcript="Hur var besöket?",
        )
    )
    b.on_realtime_lost()
    assert [ln.content for ln in b.transcript.conversation()] == ["Hej!", "Hur var besöket?"]
    assert b.needs_response_after_restore()  # a response was under way when the socket went


async def test_a_spoken_opt_out_still_waits_for_its_goodbye_after_a_lost_socket() -> None:
    b, _ = await make_bridge()
    m = Model(b)
    m.turn("r1", "a1", "Hej!")
    m.customer("u1", "Ring inte igen")
    b.on_realtime_lost()
    assert b.end_event is None and b.pending_end is Event.OPTED_OUT


async def test_the_first_response_is_no_reminder() -> None:
    b, _ = await make_bridge()
    m = Model(b)
    m.created("r1")
    m.speak("r1", "a1", "Hej!")
    assert b._ai_busy  # its audio counts as the AI speaking


async def test_speech_before_any_response_is_cut_without_a_cancel() -> None:
    b, _ = await make_bridge()
    for _ in range(50):
        b.on_realtime_event(ev("response.output_audio.delta", response_id="r1", item_id="a1", delta=PAYLOAD))
    b.on_realtime_event(ev("input_audio_buffer.speech_started", item_id="u1", audio_start_ms=0))
    assert [s["type"] for s in sent_to_realtime(b)] == ["conversation.item.truncate"]


async def test_turn_latency_is_taken_at_the_items_first_delta() -> None:
    b, _ = await make_bridge()
    clock = _clock(b)
    b.on_realtime_event(ev("input_audio_buffer.speech_stopped", item_id="u1", audio_end_ms=900))
    await clock.advance(0.5)
    b.on_realtime_event(ev("response.output_audio.delta", response_id="r1", item_id="a1", delta=PAYLOAD))
    await clock.advance(0.3)
    b.on_realtime_event(ev("response.output_audio.delta", response_id="r1", item_id="a1", delta=PAYLOAD))
    assert b.metrics.turn_latencies_ms == [pytest.approx(500.0)]


async def test_a_long_item_s_group_marks_echo_too() -> None:
    b, _ = await make_bridge()
    m = Model(b)
    m.created("r1")
    m.speak("r1", "a1", "Lång", chunks=120)
    assert len(m.marks) >= 3  # start, groups, end
    await _clock(b).advance(0.1)
    m.heard()
    assert b.metrics.mark_latencies_ms == [pytest.approx(100.0)]


async def test_a_session_expiring_within_a_second_is_still_renewed() -> None:
    b, _ = await make_bridge()
    b.on_realtime_event(ev("session.created", session={"id": "s", "expires_at": int(time.time()) + 1}))
    assert b.realtime_expires_at is not None


async def test_the_last_transcription_releases_the_wait_for_final_words() -> None:
    b, _ = await make_bridge()
    b.on_realtime_event(ev("input_audio_buffer.committed", item_id="u1"))
    b.on_realtime_event(ev("input_audio_buffer.committed", item_id="u2"))
    b.on_twilio_frame(_frame(event="stop", stop={}))
    assert b.final_words is not None
    done = "conversation.item.input_audio_transcription.completed"
    b.on_realtime_event(ev(done, item_id="u1", content_index=0, transcript="Ja"))
    assert not b.final_words.is_set()  # u2 is still coming
    b.on_realtime_event(ev(done, item_id="u2", content_index=0, transcript="Hej då"))
    assert b.final_words.is_set()
    # A failed transcription with nobody waiting is only counted.
    c, _ = await make_bridge()
    c.on_realtime_event(
        ev("conversation.item.input_audio_transcription.failed", item_id="u1", content_index=0, error={})
    )
    assert c.final_words is None and c.metrics.errors == {"transcription_failed": 1}


class _Code:
    def __init__(self, name: str) -> None:
        self.name = name


class _Language:
    def __init__(self, code: str) -> None:
        self.iso_code_639_1 = _Code(code)


class _Confidence:
    def __init__(self, code: str, value: float) -> None:
        self.language = _Language(code)
        self.value = value


class _Detector:
    """Stands in for lingua's detector (its models take seconds and ~35 MB per language to load)."""

    def __init__(self, code: str | None) -> None:
        self.code = code
        self.texts: list[str] = []

    def compute_language_confidence_values(self, text: str) -> list[_Confidence]:
        self.texts.append(text)
        return [] if self.code is None else [_Confidence(self.code, 0.9)]


async def test_a_line_without_a_language_is_identified_off_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    detector = _Detector("EN")
    monkeypatch.setattr(language, "_detector", detector)
    monkeypatch.setattr(language, "_enabled", True)
    b, _ = await make_bridge()
    clock = _clock(b)
    await clock.advance(1.0)
    b.on_realtime_event(ev("input_audio_buffer.speech_started", item_id="u1", audio_start_ms=0))
    b.on_realtime_event(ev("input_audio_buffer.committed", item_id="u1"))
    await clock.advance(1.0)
    done = "conversation.item.input_audio_transcription.completed"
    logprobs = [{"token": "a", "logprob": 0.0, "bytes": []}]
    b.on_realtime_event(
        ev(done, item_id="u1", content_index=0, transcript=" Fine thanks ", logprobs=logprobs)
    )
    assert b.transcript.conversation() == []  # filled once identified
    assert [t.get_name() for t in b._side_tasks] == ["language"]
    await b.finish_side_tasks()
    (line,) = b.transcript.conversation()
    assert (line.content, line.language_detected, line.timestamp_ms, line.confidence_score) == (
        "Fine thanks",
        "en",
        1000,
        1.0,
    )
    assert detector.texts == ["Fine thanks"] and b.metrics.language_drift == 1
    # A line the transcription named is not sent to the detector; one it cannot place is Swedish.
    b.on_realtime_event(ev(done, item_id="u2", content_index=0, transcript="Ja", languages=[{"code": "sv"}]))
    assert b.transcript.conversation()[-1].content == "Ja" and detector.texts == ["Fine thanks"]
    detector.code = None
    b.on_realtime_event(ev(done, item_id="u3", content_index=0, transcript="Mm"))
    await b.finish_side_tasks()
    assert b.transcript.conversation()[-1].language_detected == "sv" and b.metrics.language_drift == 1


async def test_an_identified_line_keeps_its_place_and_its_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(language, "_detector", _Detector("EN"))
    monkeypatch.setattr(language, "_enabled", True)
    b, _ = await make_bridge()
    clock = _clock(b)
    b.on_realtime_event(ev("input_audio_buffer.committed", item_id="u1"))
    m = Model(b)
    m.created("r1")
    m.speak("r1", "a1", "Okej!")
    m.done("r1")
    await clock.advance(0.5)
    b.on_realtime_event(ev("input_audio_buffer.speech_started", item_id="u2", audio_start_ms=0))
    await clock.advance(1.0)
    done = "conversation.item.input_audio_transcription.completed"
    b.on_realtime_event(ev(done, item_id="u1", content_index=0, transcript="Hello"))
    b.on_realtime_event(ev(done, item_id="u2", content_index=0, transcript="Thanks"))  # never committed
    await b.finish_side_tasks()
    lines = b.transcript.take(clock.monotonic())
    assert [(ln.content, ln.timestamp_ms) for ln in lines] == [("Hello", 0), ("Okej!", 0), ("Thanks", 500)]


async def test_a_function_call_item_without_name_or_arguments_gets_the_error_for_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="t")
    b, _ = await make_bridge()
    Model(b).created("r1")
    for item in [
        {"id": "f1", "type": "function_call", "call_id": "c1", "name": "record_consent"},
        {"id": "f2", "type": "function_call", "call_id": "c2", "arguments": "{}"},
        {"id": "f3", "type": "function_call", "call_id": "c3", "name": "x" * 50, "arguments": "{}"},
    ]:
        b.on_realtime_event(ev("response.output_item.done", response_id="r1", output_index=0, item=item))
    errors = [json.loads(o["item"]["output"])["error"] for o in sent_to_realtime(b)]
    assert errors[0] == "invalid arguments for record_consent: Object missing required field `consent`"
    assert errors[1].startswith("unknown tool ''")
    assert caplog.records[-1].getMessage() == f"tool call {'x' * 40} rejected (bad arguments)"
