"""SIP media mode, the parts without sockets: settings, the dial TwiML, webhook verification,
the accept fields, the emulator's TwiML parse and signing (checked by the SDK itself)."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid

import pytest

from engine.config import OpenAISettings, Secret, Settings
from engine.emulators.openai.sip import DEFAULT_WEBHOOK_SECRET, sign_webhook
from engine.emulators.twilio.twiml import SipVerb, parse_twiml
from engine.errors import ConfigError, ValidationError
from engine.realtime import events as rt
from engine.session.sip import SipCalls, SipWebhook, WebhookRefused, sip_headers, sip_uri
from engine.telephony import twiml

STORE = str(uuid.uuid4())


def _settings(**session: object) -> Settings:
    base = Settings.from_env({})
    return dataclasses.replace(
        base,
        session=dataclasses.replace(base.session, **session),  # type: ignore[arg-type]
        openai=dataclasses.replace(
            base.openai, sip_project_id="proj_x", webhook_secret=Secret(DEFAULT_WEBHOOK_SECRET)
        ),
    )


def test_media_mode_is_global_with_per_store_overrides() -> None:
    s = _settings(media_mode="streams", media_mode_stores=(f"{STORE}=sip",))
    assert s.session.media_mode_for(STORE) == "sip"
    assert s.session.media_mode_for(STORE.upper()) == "sip"
    assert s.session.media_mode_for(str(uuid.uuid4())) == "streams"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CALLENGINE_MEDIA_MODE": "webrtc"}, "not among"),
        ({"CALLENGINE_MEDIA_MODE_STORES": "not-a-uuid=sip"}, "store uuid"),
        ({"CALLENGINE_MEDIA_MODE_STORES": f"{STORE}=carrier-pigeon"}, "not among"),
        ({"CALLENGINE_MEDIA_MODE": "sip"}, "OPENAI_SIP_PROJECT_ID"),
        ({"CALLENGINE_MEDIA_MODE": "sip", "OPENAI_SIP_PROJECT_ID": "proj_x"}, "OPENAI_WEBHOOK_SECRET"),
    ],
)
def test_bad_media_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_sip_mode_settings_load() -> None:
    s = Settings.from_env(
        {
            "CALLENGINE_MEDIA_MODE": "sip",
            "OPENAI_SIP_PROJECT_ID": "proj_x",
            "OPENAI_WEBHOOK_SECRET": DEFAULT_WEBHOOK_SECRET,
        }
    )
    assert sip_uri(s.openai) == "sip:proj_x@sip.api.openai.com;transport=tls"
    assert "whsec_" not in repr(s.openai)  # the secret is never printed


def test_dial_twiml_carries_the_x_headers_and_the_emulator_reads_them_back() -> None:
    headers = sip_headers("sess-1", 2, "v1.sess-1.2.999.mac")
    xml = twiml.sip_twiml("sip:proj_x@sip.api.openai.com;transport=tls", headers, 240)
    assert '<Dial answerOnBridge="true" timeLimit="240"><Sip>' in xml
    [verb] = parse_twiml(xml)
    assert verb == SipVerb("sip:proj_x@sip.api.openai.com;transport=tls", headers, 240)
    with pytest.raises(ValueError, match="X-"):
        twiml.sip_twiml("sip:p@h", {"Session": "x"}, 10)
    with pytest.raises(ValidationError, match="X-"):
        parse_twiml("<Response><Dial><Sip>sip:p@h?Foo=1</Sip></Dial></Response>")


def test_accept_fields_keep_the_session_but_not_the_audio_formats() -> None:
    update = rt.session_update(
        instructions="Hej", voice="marin", tools=[{"type": "function", "name": "end_call", "parameters": {}}]
    )
    fields = rt.sip_accept_fields(update)
    assert fields["type"] == "realtime" and fields["instructions"] == "Hej"
    assert fields["tools"][0]["name"] == "end_call" and fields["tool_choice"] == "auto"
    assert fields["audio"]["output"] == {"voice": "marin"}
    assert "format" not in fields["audio"]["input"] and fields["audio"]["input"]["transcription"]
    from openai.types.realtime import RealtimeSessionCreateRequest

    RealtimeSessionCreateRequest.model_validate(fields)  # what the calls API takes


def _incoming(call_id: str = "rtc_1", **headers: str) -> bytes:
    found = {
        "X-Callengine-Session": "sess-1",
        "X-Callengine-Attempt": "1",
        "X-Callengine-Token": "t",
        **headers,
    }
    return json.dumps(
        {
            "object": "event",
            "id": "evt_1",
            "type": "realtime.call.incoming",
            "created_at": int(time.time()),
            "data": {"call_id": call_id, "sip_headers": [{"name": k, "value": v} for k, v in found.items()]},
        }
    ).encode()


def test_webhook_signature_replay_and_headers() -> None:
    hook = SipWebhook(SipCalls(_settings().openai))
    body = _incoming()
    signed = sign_webhook(DEFAULT_WEBHOOK_SECRET, "wh_1", int(time.time()), body)
    call = hook.verify(body, signed)
    assert call is not None and (call.call_id, call.session_id, call.attempt, call.token) == (
        "rtc_1",
        "sess-1",
        1,
        "t",
    )
    with pytest.raises(WebhookRefused) as replay:
        hook.verify(body, signed)
    assert replay.value.kind == "sip_replayed_webhook" and replay.value.status == 200
    with pytest.raises(WebhookRefused) as forged:
        hook.verify(body, sign_webhook("whsec_" + "QUJD" * 8, "wh_2", int(time.time()), body))
    assert forged.value.kind == "sip_forged_signature"
    stale = sign_webhook(DEFAULT_WEBHOOK_SECRET, "wh_3", int(time.time()) - 3600, body)
    with pytest.raises(WebhookRefused):  # outside the SDK's timestamp window
        hook.verify(body, stale)
    no_session = _incoming("rtc_2", **{"X-Callengine-Session": ""})
    with pytest.raises(WebhookRefused) as unknown:
        hook.verify(no_session, sign_webhook(DEFAULT_WEBHOOK_SECRET, "wh_4", int(time.time()), no_session))
    assert unknown.value.call_id == "rtc_2" and unknown.value.sip_status == 404


def test_replay_memory_forgets_after_the_window() -> None:
    now = [1000.0]
    hook = SipWebhook(SipCalls(_settings().openai), clock=lambda: now[0])
    body = _incoming()
    headers = sign_webhook(DEFAULT_WEBHOOK_SECRET, "wh_1", int(time.time()), body)
    hook.verify(body, headers)
    now[0] += 400  # past the SDK's 300 s window: that delivery would be refused as stale anyway
    hook.verify(body, sign_webhook(DEFAULT_WEBHOOK_SECRET, "wh_other", int(time.time()), body))
    assert "wh_1" not in hook._seen


def test_openai_settings_default_sip_uri_uses_the_project() -> None:
    assert sip_uri(OpenAISettings(sip_project_id="proj_y")) == "sip:proj_y@sip.api.openai.com;transport=tls"
