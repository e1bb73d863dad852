"""Transcript ordering: reserved at start of an utterance, released in order, numbered without gaps."""

from __future__ import annotations

from engine.domain import MessageType, Speaker
from engine.session.transcript import TranscriptLog

AI, CU = Speaker.AI, Speaker.CUSTOMER


def test_out_of_order_fills_are_released_in_conversation_order() -> None:
    log = TranscriptLog(hold_seconds=3)
    log.reserve(AI, "a1", 0, 0.0)
    log.reserve(CU, "u1", 900, 1.0)
    log.reserve(AI, "a2", 1500, 1.5)
    log.fill(AI, "a2", "Fråga två?", MessageType.QUESTION, now=2.0, timestamp_ms=1500)
    log.fill(AI, "a1", "Hej!", MessageType.SYSTEM, now=2.0, timestamp_ms=0)
    assert [line.content for line in log.take(2.0)] == ["Hej!"]  # u1 still pending, holds a2
    log.fill(CU, "u1", "Ja", MessageType.RESPONSE, now=2.5, timestamp_ms=900)
    out = log.take(2.5)
    assert [(line.message_order, line.content, line.timestamp_ms) for line in out] == [
        (2, "Ja", 900),
        (3, "Fråga två?", 1500),
    ]


def test_a_slot_that_never_fills_stops_holding_after_the_hold_time() -> None:
    log = TranscriptLog(hold_seconds=1)
    log.reserve(CU, "u1", 0, 0.0)
    log.reserve(AI, "a1", 10, 0.1)
    log.fill(AI, "a1", "Nästa", MessageType.QUESTION, now=0.2, timestamp_ms=10)
    assert log.take(0.5) == []
    assert [line.message_order for line in log.take(1.1)] == [1]
    log.fill(CU, "u1", "sent", MessageType.RESPONSE, now=2.0, timestamp_ms=0)
    assert [(line.message_order, line.content) for line in log.take(2.0)] == [(2, "sent")]


def test_final_take_releases_everything_and_history_replays() -> None:
    log = TranscriptLog()
    log.reserve(AI, "a1", 0, 0.0)
    log.reserve(CU, "u1", 5, 0.0)
    log.fill(CU, "u1", "Hej då", MessageType.RESPONSE, now=0.1, timestamp_ms=5)
    assert [line.content for line in log.conversation()] == ["Hej då"]
    assert [line.content for line in log.take(0.1, final=True)] == ["Hej då"]
    assert [line.content for line in log.history] == ["Hej då"]
