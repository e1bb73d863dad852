"""Fault-matrix rows at the call session (CallHost, the emulators over real sockets, the session
persisted in PostgreSQL as in production): Twilio 429 and 5xx bursts and a late-answered create,
a Realtime socket drop, OpenAI unreachable at dial time, a status callback replayed from an
earlier attempt. Each asserts what the matrix asks of every row: nothing stuck, every line once
and in order, the number never rung twice at once, the completed call's analysis written with
its status (the runtime rows in tests/integration/actors show the pools assess it)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

import aiohttp
import pytest
from twilio.request_validator import RequestValidator

from engine.dispatch.breaker import ProviderUnavailableError
from engine.domain import FailureReason, SessionStatus, Speaker
from engine.emulators.openai.options import OpenAIFaults, RealtimeFaults
from engine.session.call import CallRequest
from engine.session.pgstore import PostgresSessionStore
from engine.telephony.attempt_token import AttemptTokens
from engine.telephony.rest import TwilioRestCalls
from engine.telephony.twiml import status_url
from storage import Principal
from storage.records import BusinessContext
from tests.integration.matrix import assert_never_rung_twice_at_once, assert_settled_in_order_and_enqueued
from tests.integration.session.conftest import Rig, RigFactory

HOST = "host-matrix"
ANSWERS = ["Frukten var fin.", "Kaffet var gott.", "Kassan gick fort."]
CONSENT = "Ja, det går bra."  # the scenario customer's default answer to the greeting


@dataclasses.dataclass
class Row:
    rig: Rig
    db: Any
    session_id: uuid.UUID
    store_id: uuid.UUID
    phone: str

    def request(self, attempt: int = 1) -> CallRequest:
        return CallRequest(str(self.session_id), str(self.store_id), self.phone, attempt)

    async def call(self, attempt: int = 1) -> Any:
        await self.rig.host.start_call(self.request(attempt))
        return await self.rig.outcome()

    async def record(self) -> Any:
        async with self.db.transaction(Principal.service()) as tx:
            return await tx.sessions.get(self.session_id)

    async def lines(self) -> list[Any]:
        async with self.db.transaction(Principal.service()) as tx:
            return list(await tx.transcripts.list_lines(self.session_id))

    async def assert_row(self, *, dials: int) -> None:
        await assert_settled_in_order_and_enqueued(self.db, [self.session_id])
        counts = assert_never_rung_twice_at_once(self.rig.twilio)
        assert counts.get(self.phone, 0) == dials, counts


@pytest.fixture
async def row(rig: RigFactory, database: Any, pg_factory: Any) -> Any:
    async def make(scenario: dict[str, Any] | None = None, **rig_options: Any) -> Row:
        phone = f"+4670{uuid.uuid4().int % 10_000_000:07d}"
        store_id = await pg_factory.store()
        async with database.transaction(Principal.service()) as tx:
            await tx.contexts.put_new_version(
                BusinessContext(
                    store_id=store_id,
                    operating_hours={"mon": "08:00-20:00"},
                    departments=["frukt och grönt", "kassan"],
                    current_campaigns=[{"name": "kaffe"}],
                    question_configuration={"questions": [{"text": "Hittade du det du sökte?"}]},
                    baseline_facts={},
                )
            )
        session_id = await pg_factory.session(store_id, phone)
        async with database.transaction(Principal.service()) as tx:  # claimed, as the Dispatcher does
            claimed = await tx.sessions.claim_due(dt.datetime.now(dt.UTC), 10, HOST, store_id=store_id)
            assert [c.session.id for c in claimed] == [session_id]
        scenarios = [{"name": "row", "phone": phone, "answers": ANSWERS, **(scenario or {})}]
        r = await rig(scenarios=scenarios, store=PostgresSessionStore(database, host_id=HOST), **rig_options)
        return Row(r, database, session_id, store_id, phone)

    return make


async def test_429_burst_is_retried_within_the_attempt_and_dials_once(row: Any, no_leaks: None) -> None:
    r: Row = await row()
    r.rig.twilio.faults.rest_429_burst = 2
    r.rig.twilio.faults.retry_after_s = 0
    outcome = await r.call()
    assert outcome.status is SessionStatus.COMPLETED, outcome
    (placed,) = r.rig.twilio.calls_to(r.phone)
    assert (await r.record()).twilio_call_sid == placed.sid
    # The host reports the 429s once (its heartbeat): the Dispatcher slows the account too.
    assert r.rig.host.take_twilio_throttle() > 0 and r.rig.host.take_twilio_throttle() == 0
    await r.assert_row(dials=1)


async def test_5xx_burst_and_a_late_answered_create_ring_the_customer_once(row: Any, no_leaks: None) -> None:
    # A client whose create times out after 0.5 s: the emulator places the call at once but answers
    # 1.5 s late, so the create is ambiguous and the call must be found by its own callbacks.
    r: Row = await row(
        twilio_client_factory=lambda s: TwilioRestCalls(s, request_timeout_s=0.5, backoff_s=0.01)
    )
    faults = r.rig.twilio.faults
    faults.rest_5xx_burst = 2  # refused before any work: retried within the attempt
    faults.late_create_ms, faults.late_creates = 1500, 1
    outcome = await r.call()
    assert outcome.status is SessionStatus.COMPLETED, outcome
    assert faults.rest_5xx_burst == 0 and faults.late_creates < 1, "both faults were hit"
    (placed,) = r.rig.twilio.calls_to(r.phone)
    assert outcome.call_sid == placed.sid and (await r.record()).twilio_call_sid == placed.sid
    await r.assert_row(dials=1)


async def test_realtime_drop_mid_call_is_restored(row: Any, no_leaks: None) -> None:
    # The socket opens before the phone rings, so the drop comes later to land mid-call.
    faults = OpenAIFaults(realtime=RealtimeFaults(drop_after_seconds=6.0, drop_connections=1))
    r: Row = await row(openai={"faults": faults})
    outcome = await r.call()
    assert outcome.status is SessionStatus.COMPLETED, outcome
    async with r.db.transaction(Principal.service()) as tx:
        (metrics,) = await tx.metrics.list_for_session(r.session_id)
    counts = metrics.technical_errors["counts"]
    assert counts.get("realtime_dropped") == 1 and counts.get("realtime_restored") == 1
    assert len(r.rig.openai.sessions) == 2
    replayed = [i for i in r.rig.openai.sessions[1].items if i.source != "response"]
    assert replayed, "the new socket got the conversation so far, as text"
    # What was stored reads like a call without a drop: the AI and the customer take turns,
    # no question is asked twice, and the customer's scripted replies (consent, then the
    # answers) are each stored once, in order, none lost; only the emulator's fallback reply
    # to a follow-up after the script ran out may come after them.
    lines = await r.lines()
    customer = [line.content for line in lines if line.speaker is Speaker.CUSTOMER]
    ai = [line.content for line in lines if line.speaker is Speaker.AI]
    questions = ai[1:-1]
    assert len(set(questions)) == len(questions), ai
    scripted = [CONSENT, *ANSWERS]
    assert customer[: len(scripted)] == scripted, customer
    assert not set(customer[len(scripted) :]) & set(scripted), customer
    assert [line.speaker for line in lines] == [Speaker.AI, Speaker.CUSTOMER] * len(customer) + [Speaker.AI]
    assert "procent" in ai[-1], "the interview went on to its end"
    await r.assert_row(dials=1)


async def test_realtime_unreachable_at_dial_time_rings_nobody(row: Any, no_leaks: None) -> None:
    r: Row = await row(openai={"faults": OpenAIFaults(realtime=RealtimeFaults(refuse_connections=True))})
    with pytest.raises(ProviderUnavailableError) as err:
        await r.rig.host.start_call(r.request())
    assert err.value.provider == "realtime"
    outcome = await r.rig.outcome()
    assert outcome.status is SessionStatus.PENDING and not outcome.retry_due
    assert outcome.failure_reason is FailureReason.REALTIME_UNAVAILABLE
    record = await r.record()
    assert record.session_status is SessionStatus.PENDING and record.host_id is None
    assert record.failure_reason == "realtime_unavailable" and record.retry_count == 0
    assert record.next_attempt_at is not None, "back in the queue, with a time: not stuck"
    await r.assert_row(dials=0)  # an OpenAI outage never rings a customer


async def test_a_callback_replayed_from_an_earlier_attempt_is_ignored(row: Any, no_leaks: None) -> None:
    r: Row = await row({"reply_delay_ms": 2000})
    host, sid = r.rig.host, str(r.session_id)
    await host.start_call(r.request(attempt=2))
    validator = RequestValidator(r.rig.twilio.auth_token)
    # attempt 1's "completed", correctly signed, with attempt 1's own token
    url = status_url(host.public_url, sid, AttemptTokens(r.rig.twilio.auth_token).issue(sid, 1))
    form = {"CallSid": "CA" + "0" * 32, "CallStatus": "completed", "SequenceNumber": "9"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            url, data=form, headers={"X-Twilio-Signature": validator.compute_signature(url, form)}
        ) as resp,
    ):
        assert resp.status == 403
    assert host.rejected["replayed_attempt"] == 1
    outcome = await r.rig.outcome()
    assert outcome.status is SessionStatus.COMPLETED, "attempt 1's 'completed' did not end attempt 2"
    assert (await r.record()).session_status is SessionStatus.COMPLETED
    await r.assert_row(dials=1)
