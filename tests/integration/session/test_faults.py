"""Faults and bad input: lost frames, forged requests, draining, expired Realtime sessions (the
Realtime drop and the refused connection at dial time are fault-matrix rows: test_matrix_rows.py)."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
import websockets
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import connect

from engine.domain import FailureReason, SessionStatus
from engine.session.call import CallRequest
from engine.telephony.attempt_token import AttemptTokens
from engine.telephony.twiml import media_url, status_url
from tests.integration.session.conftest import RigFactory

PHONE = "+46701749101"
ANSWERS = ["Frukten var fin.", "Kaffet var gott.", "Kassan gick fort."]
CONSENT = "Ja, det går bra."  # the scenario customer's default answer to the greeting


def _scenario(**fields: object) -> dict[str, object]:
    return {"name": "f", "phone": PHONE, "answers": ANSWERS, **fields}


async def test_packet_loss_equals_dropped_frames(rig: RigFactory, no_leaks: None) -> None:
    dropped = [20, 21, 22, 60]
    r = await rig(scenarios=[_scenario(impairments={"drop_frames": dropped})])
    outcome = await r.call("sess-loss", PHONE)
    record = await r.twilio.calls_to(PHONE)[-1].wait_ended(timeout_s=10)
    assert outcome.status is SessionStatus.COMPLETED
    info = r.store.metrics["sess-loss"].device_info
    assert info is not None and info["frames_lost"] == len(record.frames_dropped) == len(dropped)
    assert r.store.metrics["sess-loss"].packet_loss_percentage == round(
        100 * len(dropped) / (info["frames_in"] + len(dropped)), 2
    )


async def _post(url: str, form: dict[str, str], signature: str) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=form, headers={"X-Twilio-Signature": signature}) as resp,
    ):
        return resp.status


async def _stream_refused(url: str, validator: RequestValidator, call_sid: str, token: str) -> int | None:
    """Open a correctly signed stream, send ``start``; the close code the host answers with."""
    async with connect(
        url, additional_headers={"x-twilio-signature": validator.compute_signature(url, {})}
    ) as ws:
        await ws.send('{"event":"connected","protocol":"Call","version":"1.0.0"}')
        start = {"streamSid": "MZx", "callSid": call_sid, "customParameters": {"token": token}}
        await ws.send(
            json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": "MZx", "start": start})
        )
        with pytest.raises(websockets.exceptions.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), timeout=5)
        return ws.close_code


async def test_forged_requests_are_rejected_and_the_call_carries_on(rig: RigFactory, no_leaks: None) -> None:
    r = await rig(scenarios=[_scenario(reply_delay_ms=3000)])
    host = r.host
    await host.start_call(CallRequest("sess-live", "grocery-solna", PHONE, attempt=2))
    session = host.session("sess-live")
    assert session is not None and session.call_sid is not None
    validator = RequestValidator(r.twilio.auth_token)
    tokens = AttemptTokens(r.twilio.auth_token)
    this_attempt, last_attempt = tokens.issue("sess-live", 2), tokens.issue("sess-live", 1)
    form = {"CallSid": session.call_sid, "CallStatus": "completed", "SequenceNumber": "9", "To": PHONE}
    # A status callback with a forged signature (POST: the number is in the body, not the URL).
    url = status_url(host.public_url, "sess-live", this_attempt)
    assert await _post(url, form, "forged") == 403
    # under a path prefix that is not this host's public one: another host's traffic, refused
    # (a proxy routed it wrong; Twilio signed the other host's URL)
    misrouted = url.replace("/status/", "/node-a/status/")
    assert await _post(misrouted, form, validator.compute_signature(misrouted, form)) == 404
    # Correctly signed callbacks replayed from the previous attempt, or naming another call.
    old_url = status_url(host.public_url, "sess-live", last_attempt)
    assert await _post(old_url, form, validator.compute_signature(old_url, form)) == 403
    other_call = {**form, "CallSid": "CA" + "e" * 32}
    assert await _post(url, other_call, validator.compute_signature(url, other_call)) == 403
    # A stream without a valid signature.
    with pytest.raises(websockets.exceptions.InvalidStatus) as info:
        async with connect(media_url(host.public_url, "sess-live")):
            pass
    assert info.value.response.status_code == 403
    # A stream for a session this host does not have.
    unknown = media_url(host.public_url, "nobody")
    with pytest.raises(websockets.exceptions.InvalidStatus) as info:
        async with connect(
            unknown, additional_headers={"x-twilio-signature": validator.compute_signature(unknown, {})}
        ):
            pass
    assert info.value.response.status_code == 404
    # Correctly signed streams whose token is forged, from the last attempt, or whose call is another.
    live = media_url(host.public_url, "sess-live")
    assert await _stream_refused(live, validator, session.call_sid, "v1.forged") == 1008
    assert await _stream_refused(live, validator, session.call_sid, last_attempt) == 1008
    assert await _stream_refused(live, validator, "CA" + "e" * 32, this_attempt) == 1008
    assert host.rejected == {
        "misrouted": 1,
        "forged_signature": 2,
        "replayed_attempt": 2,
        "callsid_mismatch": 2,
        "token_malformed": 1,
        "stream_unknown_session": 1,
    }
    # None of it reached the call: it completes normally.
    outcome = await r.outcome()
    assert outcome.session_id == "sess-live" and outcome.status is SessionStatus.COMPLETED
    # A stream (or a replayed one) for the finished session is refused.
    with pytest.raises(websockets.exceptions.InvalidStatus) as info:
        async with connect(
            live, additional_headers={"x-twilio-signature": validator.compute_signature(live, {})}
        ):
            pass
    assert info.value.response.status_code == 404


async def test_drain_ends_live_calls_cleanly(rig: RigFactory, no_leaks: None) -> None:
    r = await rig(scenarios=[_scenario(answers=["Ja."] * 30, reply_delay_ms=500)], sessions_per_host=1)
    host = r.host
    await host.start_call(CallRequest("sess-drain", "grocery-solna", PHONE))
    assert host.free_slots == 0
    with pytest.raises(Exception, match="full"):
        await host.start_call(CallRequest("sess-other", "grocery-solna", PHONE))
    await asyncio.sleep(1.0)
    await host.drain(0.2)
    outcome = await r.outcome()
    assert outcome.status is SessionStatus.COMPLETED and host.active == 0
    with pytest.raises(Exception, match="draining"):
        await host.start_call(CallRequest("sess-late", "grocery-solna", PHONE))


async def test_expired_realtime_session_is_renewed_without_a_fault(rig: RigFactory, no_leaks: None) -> None:
    r = await rig(scenarios=[_scenario(reply_delay_ms=1500)], openai={"max_session_seconds": 25.0})
    outcome = await r.call("sess-renew", PHONE)
    assert outcome.status is SessionStatus.COMPLETED, outcome
    metrics = r.store.metrics["sess-renew"]
    assert metrics.device_info is not None and metrics.device_info["realtime_renewals"] >= 1
    assert "realtime_dropped" not in metrics.technical_errors["counts"]
    assert len(r.openai.sessions) >= 2


async def test_cancel_a_ringing_call_is_not_retried(rig: RigFactory, no_leaks: None) -> None:
    r = await rig(scenarios=[_scenario(attempts=[{"outcome": "answer", "ring_seconds": 20.0}])])
    await r.host.start_call(CallRequest("sess-cancel", "grocery-solna", PHONE))
    assert r.host.session_ids() == ["sess-cancel"]
    await asyncio.sleep(0.3)
    assert r.host.cancel_call("sess-cancel") and not r.host.cancel_call("nobody")
    outcome = await r.outcome()
    assert outcome.status is SessionStatus.FAILED and outcome.failure_reason is FailureReason.CANCELED
    assert not outcome.retry_due
    record = await r.twilio.calls_to(PHONE)[-1].wait_ended(timeout_s=10)
    assert record.status == "canceled"


async def test_a_failing_session_does_not_take_down_the_host(rig: RigFactory, no_leaks: None) -> None:
    r = await rig(scenarios=[_scenario()])
    # No business context for this store: the session fails before dialling, with a reason.
    with pytest.raises(Exception, match="not placed"):
        await r.host.start_call(CallRequest("sess-broken", "no-such-store", PHONE))
    broken = await r.outcome()
    assert broken.status is SessionStatus.FAILED and broken.failure_reason is FailureReason.INTERNAL
    assert not broken.retry_due and r.twilio.calls_to(PHONE) == []
    # The same host carries on with the next call.
    ok = await r.call("sess-fine", PHONE)
    assert ok.status is SessionStatus.COMPLETED
