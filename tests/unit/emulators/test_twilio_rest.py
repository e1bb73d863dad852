"""The real twilio SDK against the Twilio emulator: create, fetch, hang up, errors, signed callbacks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, urlsplit

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from engine.emulators.scenarios import parse_scenarios
from engine.emulators.twilio import TwilioEmulator

from .twilio_helpers import CONNECT_TWIML, CallbackServer, StreamServer

HANGUP_TWIML = '<Response><Pause length="60"/></Response>'
ANSWERS = "+46701740605"  # happy-anna in the default set
BUSY = "+46701740621"


def _client(emulator: TwilioEmulator, token: str | None = None) -> Client:
    client = Client(emulator.account_sid, token or emulator.auth_token)
    client.api.base_url = emulator.base_url
    return client


async def test_create_fetch_hangup_with_signed_get_and_post_callbacks(
    twilio_emulator: TwilioEmulator, twilio_client: Client
) -> None:
    async with CallbackServer() as callbacks:
        call = await asyncio.to_thread(
            twilio_client.calls.create,
            to=ANSWERS,
            from_="+46850000000",
            twiml=HANGUP_TWIML,
            status_callback=callbacks.url("/status?session=abc"),
            status_callback_method="GET",
            status_callback_event=["initiated", "ringing", "answered", "completed"],
        )
        assert call.sid.startswith("CA") and len(call.sid) == 34
        assert call.status == "queued"
        assert call.to == ANSWERS and call._from == "+46850000000"
        assert call.date_created is not None and call.date_created.tzinfo is not None
        record = twilio_emulator.call(call.sid)
        await record.wait_status("in-progress", 5)
        fetched = await asyncio.to_thread(twilio_client.calls(call.sid).fetch)
        assert fetched.status == "in-progress" and fetched.start_time is not None
        updated = await asyncio.to_thread(twilio_client.calls(call.sid).update, status="completed")
        assert updated.sid == call.sid
        await record.wait_ended(5)
    assert record.end_reason == "hangup-rest"
    assert record.status_names() == ["queued", "initiated", "ringing", "in-progress", "completed"]
    validator = RequestValidator(twilio_emulator.auth_token)
    statuses = []
    for method, url, form, headers in callbacks.requests:
        assert method == "GET" and form == {}
        assert validator.validate(url, {}, headers["X-Twilio-Signature"])
        assert not validator.validate(url + "x", {}, headers["X-Twilio-Signature"])
        query = dict(parse_qsl(urlsplit(url).query))
        assert query["session"] == "abc" and query["CallSid"] == call.sid
        statuses.append((query["SequenceNumber"], query["CallStatus"]))
    assert statuses == [("0", "initiated"), ("1", "ringing"), ("2", "in-progress"), ("3", "completed")]
    final = dict(parse_qsl(urlsplit(callbacks.requests[-1][1]).query))
    assert final["CallDuration"].isdigit() and final["Direction"] == "outbound-api"
    assert [c.http_status for c in record.callbacks] == [204, 204, 204, 204]


async def test_post_callbacks_default_to_completed_only_and_validate(
    twilio_emulator: TwilioEmulator, twilio_client: Client
) -> None:
    async with CallbackServer() as callbacks:
        call = await asyncio.to_thread(
            twilio_client.calls.create,
            to=BUSY,
            from_="+46850000000",
            twiml=HANGUP_TWIML,
            status_callback=callbacks.url("/cb"),
        )
        record = await twilio_emulator.call(call.sid).wait_ended(5)
    assert record.status == "busy" and record.end_reason == "busy"
    [(method, url, form, headers)] = callbacks.requests
    assert method == "POST" and form["CallStatus"] == "busy" and form["SequenceNumber"] == "0"
    assert form["CallDuration"] == "0"
    assert RequestValidator(twilio_emulator.auth_token).validate(url, form, headers["X-Twilio-Signature"])
    fetched = await asyncio.to_thread(twilio_client.calls(call.sid).fetch)
    assert fetched.status == "busy"


async def test_cancel_while_ringing(twilio_emulator: TwilioEmulator, twilio_client: Client) -> None:
    call = await asyncio.to_thread(
        twilio_client.calls.create, to="+46701740620", from_="+46850000000", twiml=HANGUP_TWIML
    )  # no-answer on the first attempt: rings for Timeout
    record = twilio_emulator.call(call.sid)
    await record.wait_status("ringing", 5)
    await asyncio.to_thread(twilio_client.calls(call.sid).update, status="canceled")
    await record.wait_ended(5)
    assert record.status == "canceled" and record.end_reason == "canceled-rest"


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"to": "0701234567"}, 400, 21211),
        ({"to": "+4670abc"}, 400, 21211),
        ({"from_": "nope"}, 400, 21212),
        ({"twiml": "<Response><Connect>"}, 400, 12100),
        ({"twiml": None}, 400, 21205),
        ({"status_callback_event": ["ringing", "bogus"]}, 400, 21626),
        ({"timeout": 900}, 400, 20001),
        ({"machine_detection": "Sometimes"}, 400, 20001),
    ],
)
async def test_create_errors_raise_twilio_rest_exception(
    twilio_client: Client, kwargs: dict[str, object], status: int, code: int
) -> None:
    args: dict[str, object] = {"to": ANSWERS, "from_": "+46850000000", "twiml": HANGUP_TWIML}
    args.update(kwargs)
    with pytest.raises(TwilioRestException) as info:
        await asyncio.to_thread(twilio_client.calls.create, **args)
    assert (info.value.status, info.value.code) == (status, code)
    assert info.value.msg.startswith("Unable to create record: ")


async def test_auth_not_found_and_update_errors(
    twilio_emulator: TwilioEmulator, twilio_client: Client
) -> None:
    bad = _client(twilio_emulator, token="wrong")
    with pytest.raises(TwilioRestException) as info:
        await asyncio.to_thread(bad.calls.create, to=ANSWERS, from_="+46850000000", twiml=HANGUP_TWIML)
    assert (info.value.status, info.value.code) == (401, 20003)
    with pytest.raises(TwilioRestException) as info:
        await asyncio.to_thread(twilio_client.calls("CA" + "1" * 32).fetch)
    assert (info.value.status, info.value.code) == (404, 20404)
    call = await asyncio.to_thread(
        twilio_client.calls.create, to=BUSY, from_="+46850000000", twiml=HANGUP_TWIML
    )
    await twilio_emulator.call(call.sid).wait_ended(5)
    with pytest.raises(TwilioRestException) as info:
        await asyncio.to_thread(twilio_client.calls(call.sid).update, twiml=HANGUP_TWIML)
    assert info.value.code == 21220
    with pytest.raises(TwilioRestException) as info:
        await asyncio.to_thread(twilio_client.calls(call.sid).update, status="ringing")
    assert info.value.code == 20001


async def test_rate_limit_and_5xx_burst(
    twilio_emulator_factory: Callable[..., Awaitable[TwilioEmulator]],
) -> None:
    emulator = await twilio_emulator_factory(calls_per_second=2)
    client = _client(emulator)

    def create() -> object:
        return client.calls.create(to=BUSY, from_="+46850000000", twiml=HANGUP_TWIML)

    # Concurrent, so all three land within the one-second window even on a busy machine.
    results = await asyncio.gather(*(asyncio.to_thread(create) for _ in range(3)), return_exceptions=True)
    [error] = [r for r in results if isinstance(r, BaseException)]
    assert isinstance(error, TwilioRestException) and (error.status, error.code) == (429, 20429)
    emulator.faults.rest_5xx_burst = 1
    with pytest.raises(TwilioRestException) as info:
        await asyncio.to_thread(client.calls("CA" + "1" * 32).fetch)
    assert info.value.status == 503
    assert len(emulator.calls) == 2
    await emulator.wait_idle(5)


async def test_async_client_path(twilio_emulator: TwilioEmulator, twilio_async_client: Client) -> None:
    call = await twilio_async_client.calls.create_async(
        to=BUSY, from_="+46850000000", twiml=HANGUP_TWIML, status_callback_event=["initiated", "answered"]
    )
    assert call.status == "queued"
    await twilio_emulator.call(call.sid).wait_ended(5)
    fetched = await twilio_async_client.calls(call.sid).fetch_async()
    assert fetched.status == "busy"
    with pytest.raises(TwilioRestException) as info:
        await twilio_async_client.calls.create_async(to="123", from_="+46850000000", twiml=HANGUP_TWIML)
    assert info.value.code == 21211


async def test_url_twiml_fetch_and_sync_amd(
    twilio_emulator_factory: Callable[..., Awaitable[TwilioEmulator]],
) -> None:
    scenarios = parse_scenarios(
        {
            "scenarios": [
                {
                    "name": "vm",
                    "phone": "+46701740699",
                    "attempts": [{"outcome": "voicemail", "ring_seconds": 1}],
                }
            ]
        }
    )
    emulator = await twilio_emulator_factory(scenarios=scenarios)
    client = _client(emulator)
    async with CallbackServer(reply="<Response><Hangup/></Response>") as web_app:
        call = await asyncio.to_thread(
            client.calls.create,
            to="+46701740699",
            from_="+46850000000",
            url=web_app.url("/twiml"),
            status_callback=web_app.url("/status"),
            status_callback_event=["answered", "completed"],
            machine_detection="Enable",
        )
        record = await emulator.call(call.sid).wait_ended(5)
    assert record.answered_by == "machine_start" and record.end_reason == "twiml-hangup"
    by_path = {
        urlsplit(url).path: form for _, url, form, _ in web_app.requests if urlsplit(url).path != "/status"
    }
    assert by_path["/twiml"]["AnsweredBy"] == "machine_start"
    answered = [
        form
        for _, url, form, _ in web_app.requests
        if form.get("CallStatus") == "in-progress" and "/status" in url
    ]
    assert answered[0]["AnsweredBy"] == "machine_start"
    fetched = await asyncio.to_thread(client.calls(call.sid).fetch)
    assert fetched.answered_by == "machine_start" and fetched.status == "completed"


async def test_async_amd_callback(twilio_emulator: TwilioEmulator, twilio_client: Client) -> None:
    async with CallbackServer() as web_app, StreamServer() as media:
        call = await asyncio.to_thread(
            twilio_client.calls.create,
            to=ANSWERS,
            from_="+46850000000",
            twiml=CONNECT_TWIML.format(url=media.url),
            machine_detection="Enable",
            async_amd="true",
            async_amd_status_callback=web_app.url("/amd"),
        )
        async with asyncio.timeout(5):
            await web_app.arrived.wait()
        await asyncio.to_thread(twilio_client.calls(call.sid).update, status="completed")
        record = await twilio_emulator.call(call.sid).wait_ended(5)
    [(_, url, form, headers)] = web_app.requests
    assert form["AnsweredBy"] == "human" and form["CallSid"] == call.sid
    assert int(form["MachineDetectionDuration"]) > 0
    assert RequestValidator(twilio_emulator.auth_token).validate(url, form, headers["X-Twilio-Signature"])
    assert record.answered_by == "human"


async def test_api_key_auth(twilio_emulator_factory: Callable[..., Awaitable[TwilioEmulator]]) -> None:
    key, secret = "SK" + "ab" * 16, "key-secret"
    emulator = await twilio_emulator_factory(api_keys={key: secret})
    client = Client(key, secret, account_sid=emulator.account_sid)
    client.api.base_url = emulator.base_url
    call = await asyncio.to_thread(client.calls.create, to=BUSY, from_="+46850000000", twiml=HANGUP_TWIML)
    await emulator.call(call.sid).wait_ended(5)
    wrong = Client(key, "nope", account_sid=emulator.account_sid)
    wrong.api.base_url = emulator.base_url
    with pytest.raises(TwilioRestException) as info:
        await asyncio.to_thread(wrong.calls(call.sid).fetch)
    assert info.value.code == 20003


async def test_list_and_delete(twilio_emulator: TwilioEmulator, twilio_client: Client) -> None:
    sids = []
    for _ in range(3):
        call = await asyncio.to_thread(
            twilio_client.calls.create, to=BUSY, from_="+46850000000", twiml=HANGUP_TWIML
        )
        sids.append(call.sid)
    listed = await asyncio.to_thread(twilio_client.calls.list, to=BUSY, limit=2)
    assert [c.sid for c in listed] == sids[::-1][:2]  # newest first
    await twilio_emulator.wait_idle(5)
    assert await asyncio.to_thread(twilio_client.calls(sids[0]).delete) is True
    with pytest.raises(TwilioRestException) as info:
        await asyncio.to_thread(twilio_client.calls(sids[0]).fetch)
    assert info.value.code == 20404
