"""The bridge steered by tool calls, and the fallbacks when the model calls none (virtual clock)."""

from __future__ import annotations

import asyncio
import json

from engine.clock import VirtualClock
from engine.domain import MessageType, Speaker
from engine.session.control import ConsentAnswer, ConsentDecided, ProgressMade
from engine.session.state import Event
from tests.unit.session.bridge_helpers import Model, make_bridge, sent_to_realtime


async def test_end_call_ends_once_the_goodbye_has_been_heard() -> None:
    b, _ = await make_bridge()
    m = Model(b)
    m.created("r9")
    m.speak("r9", "a9", "Tack för hjälpen, hej då!")
    m.call("r9", "end_call", {"reason": "completed"})
    outputs = sent_to_realtime(b)
    assert [o["type"] for o in outputs] == ["conversation.item.create"]
    assert (
        outputs[0]["item"]["type"] == "function_call_output"
        and json.loads(outputs[0]["item"]["output"])["ok"]
    )
    assert b.pending_end is Event.INTERVIEW_DONE and b.end_event is None
    m.done("r9")
    assert b.end_event is None  # the goodbye is still playing
    assert not any(o["type"] == "response.create" for o in sent_to_realtime(b))  # the call is ending
    m.heard()
    assert b.end_event is Event.INTERVIEW_DONE


async def test_end_call_before_the_goodbye_audio_finished_waits_for_it() -> None:
    b, _ = await make_bridge()
    m = Model(b)
    m.created("r1")
    m.call("r1", "end_call", {"reason": "wrong_person"})  # the call comes first, the audio after
    m.speak("r1", "a1", "Förlåt, fel person. Hej då!")
    assert b.end_event is None
    m.done("r1")
    assert b.end_event is None
    m.heard()
    assert b.end_event is Event.WRONG_PERSON


async def test_speech_after_end_call_is_cancelled_never_played_nor_kept() -> None:
    b, _ = await make_bridge(held=False)
    m = Model(b)
    m.created("r1")
    m.speak("r1", "a1", "Hej då!")
    m.call("r1", "end_call", {"reason": "completed"})
    m.done("r1")
    sent_to_realtime(b)
    m.created("r2")  # the model speaks again
    assert {"type": "response.cancel"} in sent_to_realtime(b)
    b.on_realtime_event(
        json.dumps(
            {
                "type": "response.output_item.added",
                "response_id": "r2",
                "item": {"id": "a2", "type": "message", "role": "assistant"},
            }
        )
    )
    late = json.dumps(
        {"type": "response.output_audio.delta", "response_id": "r2", "item_id": "a2", "delta": "//8="}
    )
    assert b.on_realtime_event(late) is None
    m.heard()
    assert b.end_event is Event.INTERVIEW_DONE
    assert b.metrics.conversation["spoke_after_end_call"] == 1
    lines = b.transcript.take(b.clock.monotonic(), final=True)
    assert [line.content for line in lines] == ["Hej då!"]


async def test_goodbye_and_end_call_split_over_two_responses() -> None:
    b, _ = await make_bridge()
    m = Model(b)
    m.turn("r1", "a1", "Tack, hej då!")
    assert b.end_event is None
    m.created("r2")
    m.call("r2", "end_call", {"reason": "completed"})
    m.done("r2")  # no audio in this response; the goodbye was heard already
    assert b.end_event is Event.INTERVIEW_DONE


async def test_bad_arguments_get_an_error_and_another_chance() -> None:
    b, _ = await make_bridge()
    m = Model(b)
    m.created("r1")
    m.call("r1", "end_call", {"reason": "finished"})
    m.done("r1")
    out = sent_to_realtime(b)
    assert out[0]["type"] == "conversation.item.create" and not json.loads(out[0]["item"]["output"])["ok"]
    assert out[1] == {"type": "response.create"}  # it called without speaking: let it try again
    assert b.pending_end is None and b.metrics.conversation["tool_call_rejected"] == 1
    m.created("r2")
    m.speak("r2", "a2", "Hej då!")
    m.call("r2", "end_call", {"reason": "completed"})
    m.done("r2")
    m.heard()
    assert b.end_event is Event.INTERVIEW_DONE


async def test_consent_holds_the_transcript_until_given() -> None:
    b, probe = await make_bridge(held=True)
    m = Model(b)
    m.turn("r1", "a1", "Hej, jag är en AI-assistent … går det bra?")
    m.customer("u1", "Ja, det går bra.")
    assert b.transcript.take(b.clock.monotonic()) == []  # nothing is written before consent
    m.created("r2")
    m.call("r2", "record_consent", {"consent": True})
    m.done("r2")
    assert sent_to_realtime(b)[-1] == {"type": "response.create"}  # the model waits for the output
    decided = [e for e in probe.persisted if isinstance(e, ConsentDecided)]
    assert decided and decided[0].record.answer is ConsentAnswer.GRANTED
    lines = b.transcript.take(b.clock.monotonic(), final=True)
    assert [(ln.speaker, ln.message_type) for ln in lines] == [
        (Speaker.AI, MessageType.SYSTEM),
        (Speaker.CUSTOMER, MessageType.RESPONSE),
    ]


async def test_question_progress_is_persisted_as_the_tool_calls_arrive() -> None:
    b, probe = await make_bridge()
    m = Model(b)
    m.turn("r1", "a1", "Öppning")
    m.customer("u1", "Ja")
    m.created("r2")
    m.speak("r2", "a2", "Hur var A?")
    m.call("r2", "record_consent", {"consent": True})
    m.done("r2")
    assert not any(o["type"] == "response.create" for o in sent_to_realtime(b))  # it spoke already
    m.heard()
    m.customer("u2", "A var bra.")
    m.created("r3")
    m.speak("r3", "a3", "Och B?")
    m.call("r3", "question_answered", {"question_id": "qa"})
    m.done("r3")
    progress = [e.update.question_id for e in probe.persisted if isinstance(e, ProgressMade)]
    assert progress == ["qa"]
    lines = {ln.content: ln.message_type for ln in b.transcript.take(b.clock.monotonic(), final=True)}
    assert lines["Hur var A?"] is MessageType.QUESTION and lines["Öppning"] is MessageType.SYSTEM


async def _timers(b) -> asyncio.Task[None]:  # type: ignore[no-untyped-def]
    task = asyncio.create_task(b._timer_loop())
    await asyncio.sleep(0)
    return task


async def test_no_tool_model_ends_completed_after_a_short_silence_following_its_last_turn() -> None:
    b, probe = await make_bridge(held=True)
    clock = b.clock
    assert isinstance(clock, VirtualClock)
    m = Model(b)
    task = await _timers(b)
    try:
        m.turn("r1", "a1", "Öppning och samtyckesfråga")
        m.customer("u1", "Ja, det går bra.")
        m.turn("r2", "a2", "Hur var A?")
        m.customer("u2", "A var bra.")
        m.turn("r3", "a3", "Och B?")
        assert b.control.consented and b.control.took_part  # inferred: no tool was called
        await clock.advance(3.0)
        m.customer("u3", "B var också bra.")
        assert b.control.done_with_last_answer
        await clock.advance(3.0)
        assert b.end_event is None  # done, but the AI has not had its last word yet
        m.turn("r4", "a4", "Tack så mycket och hej då!")
        await clock.advance(3.9)
        assert b.end_event is None
        await clock.advance(0.2)
        assert b.end_event is Event.INTERVIEW_DONE  # a few seconds after the goodbye, never abandoned
    finally:
        task.cancel()
    inferred = [e.update.question_id for e in probe.persisted if isinstance(e, ProgressMade)]
    assert inferred == ["qa", "qb"]


async def test_long_silence_after_taking_part_completes_without_it_abandons() -> None:
    for answers, expected in ((1, Event.INTERVIEW_DONE), (0, Event.SILENCE_TIMEOUT)):
        b, _ = await make_bridge()
        clock = b.clock
        assert isinstance(clock, VirtualClock)
        m = Model(b)
        task = await _timers(b)
        try:
            m.turn("r1", "a1", "Öppning")
            m.customer("u1", "Ja")
            for n in range(answers):
                m.turn(f"q{n}", f"aq{n}", "Fråga?")
                m.customer(f"uq{n}", "Svar.")
            m.turn("rx", "ax", "Nästa fråga?")
            await clock.advance(8.5)
            assert sent_to_realtime(b)[-1]["response"]["instructions"].startswith("MÅL: påminnelse")
            await clock.advance(12.0)
            assert b.end_event is expected
        finally:
            task.cancel()


async def test_customer_hanging_up_after_the_last_answer_is_completed() -> None:
    b, _ = await make_bridge()
    m = Model(b)
    m.turn("r1", "a1", "Öppning")
    m.customer("u1", "Ja")
    m.turn("r2", "a2", "A?")
    m.customer("u2", "Bra.")
    assert b.hang_up_event() is Event.CUSTOMER_HUNG_UP
    m.turn("r3", "a3", "B?")
    m.customer("u3", "Också bra.")
    b.on_twilio_frame(json.dumps({"event": "stop", "streamSid": "MZ1", "stop": {}}))
    assert b.hang_up_event() is Event.HUNG_UP_AFTER_INTERVIEW


async def test_spoken_opt_out_is_a_safety_net_when_the_model_does_not_act() -> None:
    b, probe = await make_bridge()
    m = Model(b)
    m.turn("r1", "a1", "Öppning")
    m.customer("u1", "Nej tack, ring inte igen.")
    assert b.pending_end is Event.OPTED_OUT and b.end_event is None
    await b.finish_side_tasks()
    assert probe.opted == ["x"] and b.metrics.conversation["spoken_opt_out"] == 1
    m.turn("r2", "a2", "Jag förstår, hej då.")  # the model's goodbye, whatever it called
    assert b.end_event is Event.OPTED_OUT


async def test_decline_keeps_nothing_of_the_conversation() -> None:
    b, _ = await make_bridge(held=True)
    m = Model(b)
    m.turn("r1", "a1", "Öppning")
    m.customer("u1", "Nej, det vill jag inte.")
    m.created("r2")
    m.speak("r2", "a2", "Då ska jag inte störa. Hej då!")
    m.call("r2", "end_call", {"reason": "declined"})
    m.done("r2")
    m.heard()
    assert b.end_event is Event.DECLINED and not b.control.consented
    assert b.transcript.take(b.clock.monotonic(), final=True) == []
