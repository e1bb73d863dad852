"""The voice-URL route over a stand-in host: signature, decisions, the claim given back on failure."""

from __future__ import annotations

from collections import Counter
from http import HTTPStatus

from engine.config import Secret, Settings, TwilioSettings
from engine.errors import ResourceExhaustedError, UnavailableError
from engine.session.inbound import voice_webhook
from engine.session.store import MemorySessionStore
from engine.telephony.inbound import InboundCall, Waiting
from engine.telephony.security import SignatureChecker

URL = "https://host.example/voice"
TOKEN = "0123456789abcdef0123456789abcdef"
CUSTOMER = "+46701740605"


class Host:
    def __init__(self, store: MemorySessionStore, *, free: int = 1, fail: Exception | None = None) -> None:
        self.settings = Settings(twilio=TwilioSettings(auth_token=Secret(TOKEN)))
        self.signatures = SignatureChecker(TOKEN)
        self.rejected: Counter[str] = Counter()
        self.store = store
        self.free_slots = free
        self.host_id = "h1"
        self.fail = fail
        self.accepted: list[Waiting] = []

    async def accept_inbound(self, waiting: Waiting, call: InboundCall) -> str:
        if self.fail is not None:
            raise self.fail
        self.accepted.append(waiting)
        return "<Response><Connect/></Response>"


async def _call(host: Host, **extra: str) -> tuple[HTTPStatus, str]:
    params = {
        "CallSid": "CA" + "1" * 32,
        "From": CUSTOMER,
        "To": "+46850000000",
        "Direction": "inbound",
        **extra,
    }
    return await voice_webhook(
        host,  # type: ignore[arg-type]
        url=URL,
        params=params,
        signature=host.signatures.sign(URL, params),  # a signed POST form, as Twilio sends it
    )


async def test_forged_and_malformed_requests_are_refused() -> None:
    host = Host(MemorySessionStore())
    status, _ = await voice_webhook(host, url=URL, params={}, signature="nope")  # type: ignore[arg-type]
    assert status is HTTPStatus.FORBIDDEN and host.rejected["forged_signature"] == 1
    status, _ = await _call(host, From="anonymous")
    assert status is HTTPStatus.BAD_REQUEST and host.rejected["voice_bad_request"] == 1


async def test_a_waiting_customer_gets_the_interview_others_the_message() -> None:
    store = MemorySessionStore()
    store.waiting[CUSTOMER] = Waiting("s1", "st", 2)
    host = Host(store)
    status, body = await _call(host)
    assert status is HTTPStatus.OK and "Connect" in body and host.accepted == [Waiting("s1", "st", 2)]
    status, body = await _call(host)  # nothing waits any more
    assert "Gather" in body and "AI-assistent" in body


async def test_the_claim_is_given_back_when_the_interview_cannot_start() -> None:
    store = MemorySessionStore()
    store.waiting[CUSTOMER] = Waiting("s1", "st", 2)
    host = Host(store, fail=ResourceExhaustedError("full"))
    status, body = await _call(host)
    assert status is HTTPStatus.OK and "Gather" in body  # the customer still hears who called
    assert store.waiting[CUSTOMER] == Waiting("s1", "st", 2)  # and the session waits again
    full = Host(store, free=0)
    assert "Gather" in (await _call(full))[1] and CUSTOMER in store.waiting


async def test_keypad_opt_out_and_opted_out_numbers() -> None:
    store = MemorySessionStore()
    host = Host(store)
    status, body = await _call(host, Digits="9")
    assert status is HTTPStatus.OK and "inte igen" in body and CUSTOMER in store.opted_out
    _, body = await _call(host)
    assert "Gather" not in body and "inte uppringd igen" in body
    _, body = await _call(host, Digits="1")
    assert "Gather" not in body


async def test_storage_trouble_still_answers_with_the_message() -> None:
    class Broken(MemorySessionStore):
        async def is_opted_out(self, phone_e164: str) -> bool:
            raise UnavailableError("db down")

    status, body = await _call(Host(Broken()))
    assert status is HTTPStatus.OK and "AI-assistent" in body
