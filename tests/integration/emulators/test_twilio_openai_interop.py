"""Both emulators together through a minimal bridge: the simulated customer and the emulated
interviewer hold a whole conversation, so the two agree on turn-taking (docs/instruction-format.md)."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from openai import AsyncOpenAI
from twilio.rest import Client
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from engine.emulators.openai import ModelBehaviour, OpenAIEmulator
from engine.emulators.openai.goals import parse_goals
from engine.emulators.openai.phrasing import Phrasing
from engine.emulators.scenarios import Turn, default_scenarios
from engine.emulators.twilio import TwilioEmulator
from engine.session.conversation import BusinessContext, QuestionConfig, build_script
from engine.session.prompt import render_instructions
from tests.fixtures.emulators import Emulators
from tests.unit.emulators.twilio_helpers import CONNECT_TWIML, StreamServer

CONTEXT = BusinessContext(
    store_name="Matboden Solna Centrum",
    departments=["frukt och grönt", "kassan"],
    campaigns=["kaffe"],
    questions=[
        QuestionConfig("Hur upplevde du frukt och grönt?", id="q1"),
        QuestionConfig("Vad tyckte du om vår kampanj på kaffe?", id="q2"),
        QuestionConfig("Var det något som kunde ha varit bättre vid kassan?", id="q3"),
    ],
)
INSTRUCTIONS = render_instructions(build_script(CONTEXT, "interop"), CONTEXT)
_SAY = Phrasing(parse_goals(INSTRUCTIONS), random.Random(0), verbatim=True)
GREETING, CLOSING = _SAY.opening(), _SAY.closing("sv")
QUESTIONS = [q.text for q in CONTEXT.questions]


class MiniBridge:
    """Twilio stream <-> Realtime, the simplest correct way: pass mu-law through, clear on barge-in."""

    def __init__(self, emulators: Emulators) -> None:
        self.client = AsyncOpenAI(api_key=emulators.openai.api_key, base_url=emulators.openai.base_url)
        self.ai_lines: list[str] = []

    async def __call__(self, ws: ServerConnection, messages: list[dict[str, Any]]) -> None:
        await ws.recv()
        sid = json.loads(await ws.recv())["streamSid"]
        closing = asyncio.Event()
        async with self.client.realtime.connect(model="gpt-realtime") as conn:
            await conn.session.update(
                session={
                    "type": "realtime",
                    "instructions": INSTRUCTIONS,
                    "audio": {
                        "input": {
                            "format": {"type": "audio/pcmu"},
                            "turn_detection": {
                                "type": "server_vad",
                                "silence_duration_ms": 500,
                                "create_response": True,
                            },
                        },
                        "output": {"format": {"type": "audio/pcmu"}},
                    },
                }
            )
            await conn.response.create()

            async def from_twilio() -> None:
                async for raw in ws:
                    message = json.loads(raw)
                    if message["event"] == "media":
                        # send_raw: the SDK's typed transform costs ~3 ms per event, too slow per frame.
                        payload = message["media"]["payload"]
                        await conn.send_raw(
                            json.dumps({"type": "input_audio_buffer.append", "audio": payload})
                        )
                    elif message["event"] == "mark" and message["mark"]["name"] == "closing":
                        return
                    elif message["event"] == "stop":
                        return

            async def from_openai() -> None:
                async for event in conn:
                    if event.type == "response.output_audio.delta":
                        await ws.send(
                            json.dumps(
                                {"event": "media", "streamSid": sid, "media": {"payload": event.delta}}
                            )
                        )
                    elif event.type == "response.output_audio_transcript.done":
                        self.ai_lines.append(event.transcript)
                        if event.transcript == CLOSING:
                            closing.set()
                            await ws.send(
                                json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": "closing"}})
                            )
                    elif event.type == "input_audio_buffer.speech_started":
                        await ws.send(json.dumps({"event": "clear", "streamSid": sid}))

            reader = asyncio.create_task(from_twilio())
            writer = asyncio.create_task(from_openai())
            try:
                await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (reader, writer):
                    task.cancel()
                await asyncio.gather(reader, writer, return_exceptions=True)
        try:
            await ws.close()
        except ConnectionClosed:
            pass


@pytest.fixture
def emulator_speed() -> float:
    return 10.0


async def test_full_interview_between_the_emulators(
    twilio_emulator: TwilioEmulator, openai_emulator_factory: Callable[..., Awaitable[OpenAIEmulator]]
) -> None:
    # The real model streams audio faster than real time; so does the emulator here (output_pace),
    # which keeps Twilio's playback buffer filled even when this busy machine stalls for a moment.
    emulators = Emulators(
        twilio_emulator,
        await openai_emulator_factory(output_pace=3.0, behaviour=ModelBehaviour(style="verbatim")),
    )
    scenario = default_scenarios().by_name("happy-anna")
    bridge = MiniBridge(emulators)
    client = Client(emulators.twilio.account_sid, emulators.twilio.auth_token)
    client.api.base_url = emulators.twilio.base_url
    async with StreamServer(bridge) as server:
        call = await asyncio.to_thread(
            client.calls.create,
            to=scenario.phone,
            from_="+46850000000",
            twiml=CONNECT_TWIML.format(url=server.url),
        )
        record = await emulators.twilio.call(call.sid).wait_ended(60)
    await bridge.client.close()
    assert bridge.ai_lines == [GREETING, *QUESTIONS, CLOSING]
    assert record.customer_heard == bridge.ai_lines
    answers = [a.say if isinstance(a, Turn) else a for a in scenario.answers]
    assert record.customer_said[:4] == [scenario.consent, *answers]
    assert record.end_reason == "app-closed-stream" and record.decode_errors == 0
    [session] = emulators.openai.sessions
    assert session is not None
