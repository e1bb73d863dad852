"""Simulated customers over a real media stream: a fake engine plays AI turns and decodes the replies."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from twilio.rest import Client
from websockets.asyncio.server import ServerConnection

from engine.emulators.customer import is_voiced
from engine.emulators.scenarios import Turn, default_scenarios
from engine.emulators.speech import SpeechDecoder, encode_speech
from engine.emulators.twilio import TwilioEmulator
from tests.unit.emulators.twilio_helpers import CONNECT_TWIML, StreamServer

GREETING = "Hej! Jag ringer från Matboden om ditt köp. Är det okej att jag ställer några frågor?"
QUESTIONS = [
    "Hur upplevde du frukt och grönt?",
    "Vad tyckte du om bageriet och vår kampanj på kaffe? Berätta gärna lite mer om vad du köpte.",
    "Var det något som kunde ha varit bättre vid kassan?",
]
CLOSING = "Tack för dina svar! Hej då!"


class FakeEngine:
    """Plays each AI turn (audio + mark), then waits for the customer's reply; clears on barge-in."""

    def __init__(self, turns: list[str]) -> None:
        self.turns = turns
        self.replies: list[str] = []
        self.dtmf: list[str] = []
        self.barge_ins = 0
        self.stopped = False
        self._decoder = SpeechDecoder()
        self._pending = bytearray()

    async def __call__(self, ws: ServerConnection, messages: list[dict[str, Any]]) -> None:
        await ws.recv()
        start = json.loads(await ws.recv())
        sid = start["streamSid"]
        for i, text in enumerate(self.turns):
            audio = encode_speech(text)
            for offset in range(0, len(audio), 1600):
                payload = base64.b64encode(audio[offset : offset + 1600]).decode()
                await ws.send(json.dumps({"event": "media", "streamSid": sid, "media": {"payload": payload}}))
            await ws.send(json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": f"turn-{i}"}}))
            last = i == len(self.turns) - 1
            if not await self._await_reply(ws, sid, f"turn-{i}", last):
                return
        await ws.close()

    async def _await_reply(self, ws: ServerConnection, sid: str, mark: str, last: bool) -> bool:
        played = False
        quiet_frames = 0
        replied = False
        while True:
            message = json.loads(await ws.recv())
            event = message["event"]
            if event == "stop":
                self.stopped = True
                return False
            if event == "mark" and message["mark"]["name"] == mark:
                played = True
            elif event == "dtmf":
                self.dtmf.append(message["dtmf"]["digit"])
                return False  # an opt-out: the engine ends the call
            elif event == "media":
                frame = base64.b64decode(message["media"]["payload"])
                voiced = is_voiced(frame)
                if voiced and not played:
                    played = True
                    self.barge_ins += 1
                    await ws.send(json.dumps({"event": "clear", "streamSid": sid}))
                self._pending += frame
                texts = self._decoder.feed(bytes(self._pending)) if len(self._pending) >= 1600 else []
                if len(self._pending) >= 1600:
                    self._pending.clear()
                if texts:
                    self.replies.extend(texts)
                    replied = True
                quiet_frames = quiet_frames + 1 if played and not voiced else 0
                if replied and quiet_frames >= 10:  # the reply has ended (like a VAD's silence duration)
                    return True
                if last and quiet_frames > 150:  # 3 s after the closing: nothing more is coming
                    return True


async def _call(emulator: TwilioEmulator, phone: str, engine: FakeEngine) -> Any:
    client = Client(emulator.account_sid, emulator.auth_token)
    client.api.base_url = emulator.base_url
    async with StreamServer(engine) as server:
        call = await asyncio.to_thread(
            client.calls.create, to=phone, from_="+46850000000", twiml=CONNECT_TWIML.format(url=server.url)
        )
        return await emulator.call(call.sid).wait_ended(30)


async def test_happy_customer_answers_every_question(twilio_emulator: TwilioEmulator) -> None:
    anna = default_scenarios().by_name("happy-anna")
    engine = FakeEngine([GREETING, *QUESTIONS, CLOSING])
    record = await _call(twilio_emulator, anna.phone, engine)
    assert engine.replies == [anna.consent, *anna.answers, anna.goodbye]
    assert record.customer_said == engine.replies
    assert record.customer_heard == [GREETING, *QUESTIONS, CLOSING]
    assert record.end_reason == "app-closed-stream" and record.decode_errors == 0
    assert record.marks_echoed == [f"turn-{i}" for i in range(5)]


async def test_barge_in_is_cleared_and_reply_arrives(twilio_emulator: TwilioEmulator) -> None:
    scenario = default_scenarios().by_name("barge-in")
    engine = FakeEngine([GREETING, *QUESTIONS])
    record = await _call(twilio_emulator, scenario.phone, engine)
    assert engine.barge_ins == 1 and record.clears == 1
    assert engine.replies == [
        scenario.consent,
        *(a.say if isinstance(a, Turn) else a for a in scenario.answers),
    ]
    assert record.marks_echoed == ["turn-0", "turn-1", "turn-2", "turn-3"]


@pytest.mark.parametrize(
    ("name", "expect"), [("opt-out-dtmf", "dtmf"), ("hangs-up-after-question-1", "stop")]
)
async def test_dtmf_and_customer_hangup(twilio_emulator: TwilioEmulator, name: str, expect: str) -> None:
    scenario = default_scenarios().by_name(name)
    engine = FakeEngine([GREETING, *QUESTIONS])
    record = await _call(twilio_emulator, scenario.phone, engine)
    if expect == "dtmf":
        assert engine.dtmf == ["9"] and record.dtmf_sent == ["9"]
        assert record.end_reason == "app-closed-stream"
    else:
        assert engine.stopped and record.end_reason == "customer-hangup"
        assert engine.replies == [scenario.consent, scenario.answers[0]]
