"""SIP media mode end to end through the emulators: Twilio's <Dial><Sip> to the OpenAI emulator's
SIP side, the signed realtime.call.incoming webhook to the host, accept, the sideband, hang-up."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from engine.config import Secret, Settings
from engine.domain import MessageType, SessionStatus, Speaker
from engine.emulators.openai.sip import DEFAULT_WEBHOOK_SECRET, sign_webhook
from engine.emulators.scenarios import default_scenarios
from engine.session.call import CallRequest
from engine.session.host import CallHost
from engine.session.metrics import SIP_NOT_OBSERVED
from engine.session.store import MemorySessionStore
from tests.integration.session.conftest import OUTCOME_TIMEOUT, contexts_from, host_settings, session_settings

ANNA = "+46701740605"
PHONE = "+46701749001"


@dataclasses.dataclass
class SipRig:
    twilio: Any
    openai: Any
    host: CallHost
    store: MemorySessionStore

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.host.port}/openai/sip"

    async def call(self, session_id: str, phone: str, store_id: str = "grocery-solna") -> Any:
        import asyncio

        await self.host.start_call(CallRequest(session_id, store_id, phone, 1))
        assert self.host.outcomes is not None
        async with asyncio.timeout(OUTCOME_TIMEOUT):
            return await self.host.outcomes.get()

    async def post(self, body: bytes, headers: dict[str, str]) -> int:
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.webhook_url, data=body, headers=headers) as r,
        ):
            return r.status


@pytest.fixture
async def sip_rig(
    twilio_emulator_factory: Any, openai_emulator_factory: Any
) -> AsyncIterator[Callable[..., Awaitable[SipRig]]]:
    hosts: list[CallHost] = []

    async def make(sip_router: Any = None, **openai: Any) -> SipRig:
        scenarios = default_scenarios()
        tw = await twilio_emulator_factory(scenarios=scenarios)
        oa = await openai_emulator_factory(validate_events=True, **openai)
        env = {**tw.env(), "OPENAI_BASE_URL": oa.base_url, "OPENAI_API_KEY": oa.api_key}
        settings: Settings = host_settings(env, dataclasses.replace(session_settings(), media_mode="sip"))
        settings = dataclasses.replace(
            settings,
            openai=dataclasses.replace(
                settings.openai, sip_project_id="proj_test", webhook_secret=Secret(DEFAULT_WEBHOOK_SECRET)
            ),
        )
        store = MemorySessionStore(contexts_from(scenarios))
        host = CallHost(settings, store, sip_router=sip_router)
        await host.start()
        hosts.append(host)
        oa.sip.webhook_url = f"http://127.0.0.1:{host.port}/openai/sip"
        tw.options.sip_gateway_url = oa.base_url.replace("http://", "ws://") + "/sip"
        return SipRig(tw, oa, host, store)

    yield make
    for h in hosts:
        await h.stop()


async def test_a_sip_call_runs_the_same_interview_without_audio_through_the_engine(
    sip_rig: Callable[..., Awaitable[SipRig]], no_leaks: None
) -> None:
    r = await sip_rig()
    outcome = await r.call("sess-sip-anna", ANNA)
    assert outcome.status is SessionStatus.COMPLETED, outcome
    record = await r.twilio.calls_to(ANNA)[-1].wait_ended(timeout_s=10)
    # Twilio bridged the call with <Dial><Sip> to the project's URI, the X- headers passed on.
    assert record.sip_uri == "sip:proj_test@sip.api.openai.com;transport=tls"
    assert record.custom_parameters["X-Callengine-Session"] == "sess-sip-anna"
    assert record.custom_parameters["X-Callengine-Attempt"] == "1"
    assert record.custom_parameters["X-Callengine-Token"].startswith("v1.sess-sip-anna.1.")
    # One signed webhook, answered 200; the call accepted with the session's own configuration.
    [delivery] = r.openai.sip.webhooks
    assert delivery.status == 200
    [call] = r.openai.sip.calls.values()
    assert call.state == "ended" and call.accept_body is not None
    assert {t["name"] for t in call.accept_body["tools"]} >= {
        "end_call",
        "record_consent",
        "question_answered",
    }
    assert "Matboden" in call.accept_body["instructions"]
    assert call.accept_body["audio"]["input"]["transcription"]["model"]
    assert "format" not in call.accept_body["audio"].get("input", {})  # the SIP call negotiates it
    # The sideband carried control only: no audio, and the SIP-only playback events.
    assert call.sideband_attaches >= 1
    assert "response.output_audio.delta" not in call.sideband_events
    assert "output_audio_buffer.started" in call.sideband_events
    assert "output_audio_buffer.stopped" in call.sideband_events
    # The engine ended it after the goodbye was heard, through the calls API.
    assert call.hung_up_by == "app"
    log = r.openai.sessions[-1]
    assert not log.invalid_events, log.invalid_events
    assert log.tool_calls[0][0] == "record_consent" and log.tool_calls[-1][0] == "end_call"
    # The same transcript, consent and progress as the Media Streams path.
    lines = r.store.lines("sess-sip-anna")
    customer = [line.content for line in lines if line.speaker is Speaker.CUSTOMER]
    ai = [line.content for line in lines if line.speaker is Speaker.AI]
    assert customer == record.customer_said[: len(customer)] and len(customer) >= 3
    assert ai == [resp.text for resp in log.responses if resp.text]
    assert lines[0].message_type is MessageType.SYSTEM and "Matboden Solna Centrum" in lines[0].content
    assert r.store.consents["sess-sip-anna"][1].answer.value == "granted"
    assert {u.status for _, u in r.store.progress["sess-sip-anna"].values()} == {"answered"}
    # Metrics: what SIP cannot observe is empty and named, not invented.
    metrics = r.store.metrics["sess-sip-anna"]
    assert metrics.packet_loss_percentage is None and metrics.audio_clarity_score is None
    assert metrics.device_info is not None and metrics.device_info["media"] == "sip"
    assert metrics.device_info["not_observed"] == SIP_NOT_OBSERVED
    assert metrics.latency_ms is not None  # speech stopped → the server started playing
    assert r.host.rejected == {}


async def test_webhooks_forged_replayed_or_for_unknown_sessions_are_refused(
    sip_rig: Callable[..., Awaitable[SipRig]], no_leaks: None
) -> None:
    r = await sip_rig()
    outcome = await r.call("sess-sip-replay", ANNA)
    assert outcome.status is SessionStatus.COMPLETED, outcome
    [delivery] = r.openai.sip.webhooks
    # 1. The captured webhook sent again: verified, but never acted on twice.
    assert await r.post(delivery.body, delivery.headers) == 200
    assert r.host.rejected["sip_replayed_webhook"] == 1
    # 2. A forged signature (another secret), and a tampered body with the original headers.
    forged = sign_webhook(
        "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=", "wh_x", int(time.time()), delivery.body
    )
    assert await r.post(delivery.body, forged) == 400
    tampered = delivery.body.replace(b"sess-sip-replay", b"sess-sip-other!")
    assert await r.post(tampered, {**delivery.headers, "webhook-id": "wh_new"}) == 400
    assert r.host.rejected["sip_forged_signature"] == 2
    # 3. A genuine webhook for a session this engine does not hold (valid token, no session):
    #    answered 200, and the call rejected with a SIP status through the calls API.
    token = r.host._tokens.issue("sess-sip-gone", 1)
    payload = {
        "object": "event",
        "id": "evt_gone",
        "type": "realtime.call.incoming",
        "created_at": int(time.time()),
        "data": {
            "call_id": "rtc_gone",
            "sip_headers": [
                {"name": "X-Callengine-Session", "value": "sess-sip-gone"},
                {"name": "X-Callengine-Attempt", "value": "1"},
                {"name": "X-Callengine-Token", "value": token},
            ],
        },
    }
    body = json.dumps(payload).encode()
    assert await r.post(body, sign_webhook(DEFAULT_WEBHOOK_SECRET, "wh_gone", int(time.time()), body)) == 200
    assert r.host.rejected["sip_unknown"] == 1
    assert ("reject", "rtc_gone") in r.openai.sip.unknown_call_requests
    # 4. A token that does not speak for the session it names: rejected as forged.
    payload["data"]["sip_headers"][0]["value"] = "sess-sip-other"  # type: ignore[index]
    payload["data"]["call_id"] = "rtc_other"  # type: ignore[index]
    body = json.dumps(payload).encode()
    assert await r.post(body, sign_webhook(DEFAULT_WEBHOOK_SECRET, "wh_other", int(time.time()), body)) == 200
    assert sum(v for k, v in r.host.rejected.items() if k.startswith("sip_token_")) == 1


async def test_keypad_opt_out_arrives_over_the_sideband(
    sip_rig: Callable[..., Awaitable[SipRig]], no_leaks: None
) -> None:
    r = await sip_rig()
    opt_out = next(s for s in default_scenarios().scenarios if s.name == "opt-out-dtmf")
    outcome = await r.call("sess-sip-dtmf", opt_out.phone)
    assert outcome.status is SessionStatus.ABANDONED and outcome.opted_out, outcome
    [call] = r.openai.sip.calls.values()
    assert call.dtmf and "input_audio_buffer.dtmf_event_received" in call.sideband_events
    assert r.store.opted_out == {opt_out.phone}


async def test_openai_unreachable_before_a_sip_dial_rings_nobody_and_opens_the_breaker(
    sip_rig: Callable[..., Awaitable[SipRig]], no_leaks: None
) -> None:
    """Over SIP the Realtime session exists only once the customer answers: the API is
    probed through the host's breaker before dialling, and a failing probe gives the session
    back undialled; after three failures the breaker is open and nothing is even probed."""
    from engine.dispatch.breaker import BreakerState, ProviderUnavailableError
    from engine.domain import FailureReason
    from engine.emulators.openai.options import OpenAIFaults, RealtimeFaults

    r = await sip_rig(faults=OpenAIFaults(realtime=RealtimeFaults(refuse_connections=True)))
    for i in range(4):
        with pytest.raises(ProviderUnavailableError) as err:
            await r.host.start_call(CallRequest(f"sess-sip-down{i}", "grocery-solna", ANNA))
        assert err.value.provider == "realtime"
        outcome = await r.host.outcomes.get()  # type: ignore[union-attr]
        assert outcome.status is SessionStatus.PENDING and not outcome.retry_due
        assert outcome.failure_reason is FailureReason.REALTIME_UNAVAILABLE
    assert r.twilio.calls_to(ANNA) == [], "an OpenAI outage never rings a customer"
    assert r.host._realtime_breaker.state is BreakerState.OPEN
    assert r.openai.connections == 0 and r.openai.sip.webhooks == []


async def test_a_call_for_a_session_on_another_host_goes_through_the_router(
    sip_rig: Callable[..., Awaitable[SipRig]],
) -> None:
    """The webhook may reach any host: a verified call whose session is not here is handed to
    the router (a Ray call to the session's host in the runtime); its answer decides."""
    asked: list[tuple[str, int, str]] = []
    answers = ["accepted", "busy"]

    async def router(incoming: Any) -> str:
        asked.append((incoming.session_id, incoming.attempt, incoming.call_id))
        return answers.pop(0)

    r = await sip_rig(sip_router=router)
    token = r.host._tokens.issue("sess-elsewhere", 2)
    for n in (1, 2):
        payload = {
            "object": "event",
            "id": f"evt_{n}",
            "type": "realtime.call.incoming",
            "created_at": int(time.time()),
            "data": {
                "call_id": f"rtc_elsewhere{n}",
                "sip_headers": [
                    {"name": "X-Callengine-Session", "value": "sess-elsewhere"},
                    {"name": "X-Callengine-Attempt", "value": "2"},
                    {"name": "X-Callengine-Token", "value": token},
                ],
            },
        }
        body = json.dumps(payload).encode()
        headers = sign_webhook(DEFAULT_WEBHOOK_SECRET, f"wh_elsewhere{n}", int(time.time()), body)
        assert await r.post(body, headers) == 200
    assert asked == [("sess-elsewhere", 2, "rtc_elsewhere1"), ("sess-elsewhere", 2, "rtc_elsewhere2")]
    # the first was taken by the other host; the second refused there (it had its call): rejected here
    assert r.openai.sip.unknown_call_requests == [("reject", "rtc_elsewhere2")]
    assert r.host.rejected["sip_busy"] == 1
