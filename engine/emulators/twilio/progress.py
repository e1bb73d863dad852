"""One call's life: queued → initiated → ringing → in-progress | busy | no-answer | failed → completed.

A :class:`CallRunner` task per call follows the scenario's attempt (who
answers, after how long), posts signed status callbacks through a per-call
sender task (so they leave in order), runs the TwiML (``<Connect><Stream>``
hands the call to :class:`MediaStream`), and obeys REST updates (hang up,
cancel, redirect). All waits are virtual seconds divided by the speed factor.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import email.utils
import logging
import ssl
from collections.abc import Callable
from urllib.parse import urlencode

import aiohttp
import yarl
from twilio.request_validator import RequestValidator

from engine.emulators.customer import build_caller
from engine.emulators.scenarios import Attempt, Scenario, ScenarioSet
from engine.emulators.speech import CHARS_PER_SECOND
from engine.emulators.twilio.calllog import CallbackRecord, CallRecord
from engine.emulators.twilio.options import TwilioFaults
from engine.emulators.twilio.stream import MediaStream, StreamContext
from engine.emulators.twilio.twiml import (
    GatherVerb,
    HangupVerb,
    PauseVerb,
    SayVerb,
    SipVerb,
    StreamVerb,
    Verb,
    parse_twiml,
)
from engine.errors import ValidationError

log = logging.getLogger(__name__)

INITIATE_S = 0.05
RING_START_S = 0.1
AMD_HUMAN_S = 1.0
AMD_MACHINE_S = 3.0
DEFAULT_TIME_LIMIT_S = 4 * 3600


@dataclasses.dataclass(frozen=True)
class CallParams:
    """A validated create request."""

    to: str
    from_: str
    url: str | None = None
    method: str = "POST"
    verbs: tuple[Verb, ...] | None = None
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: frozenset[str] = frozenset({"completed"})
    timeout_s: int = 60
    time_limit_s: int = DEFAULT_TIME_LIMIT_S
    machine_detection: str | None = None
    async_amd: bool = False
    async_amd_callback: str | None = None
    async_amd_method: str = "POST"
    inbound: bool = False
    """The customer calls one of our numbers: ``url`` is that number's voice URL."""


@dataclasses.dataclass
class RunnerContext:
    account_sid: str
    auth_token: str
    speed: float
    faults: TwilioFaults
    scenarios: ScenarioSet
    http: aiohttp.ClientSession
    stream_open_timeout_s: float
    record_pacing: bool = False
    sip_gateway_url: Callable[[], str | None] = lambda: None
    tls: ssl.SSLContext | None = None


class CallRunner:
    def __init__(self, record: CallRecord, params: CallParams, scenario: Scenario | None, ctx: RunnerContext):
        self.record = record
        self.params = params
        self._scenario = scenario
        self._ctx = ctx
        self._validator = RequestValidator(ctx.auth_token)
        self._interrupt = asyncio.Event()
        self._request: str | None = None  # "hangup" | "cancel" | "redirect"
        self._redirect: tuple[Verb, ...] = ()
        self._stream: MediaStream | None = None
        self._callbacks: asyncio.Queue[tuple[str, str, dict[str, str], str] | None] = asyncio.Queue()
        self._callback_seq = 0
        self._answered_at: float | None = None
        self._amd_task: asyncio.Task[None] | None = None
        self.deleted = False
        """REST DELETE: the call is gone from the API (still in the emulator's call log)."""

    # -- REST control -----------------------------------------------------------

    def hang_up(self, status: str) -> None:
        """REST ``Status=completed|canceled``."""
        current = self.record.status
        if current in ("completed", "busy", "no-answer", "failed", "canceled"):
            return
        if status == "canceled" and current == "in-progress":
            return  # Twilio ignores cancel on a live call
        self._request = "hangup" if current == "in-progress" else "cancel"
        self._interrupt.set()
        if self._stream is not None:
            self._stream.hang_up()

    def redirect(self, verbs: tuple[Verb, ...]) -> None:
        self._request, self._redirect = "redirect", verbs
        self._interrupt.set()
        if self._stream is not None:
            self._stream.hang_up()

    # -- the call ---------------------------------------------------------------

    async def run(self) -> None:
        sender = asyncio.create_task(self._send_callbacks(), name=f"twilio-callbacks-{self.record.sid}")
        try:
            await self._progress()
        except asyncio.CancelledError:
            if self.record.status not in ("completed", "busy", "no-answer", "failed", "canceled"):
                self.record.end_reason = self.record.end_reason or "emulator-stopped"
                self._terminal("completed" if self._answered_at is not None else "canceled")
            raise
        finally:
            if self._amd_task is not None:
                self._amd_task.cancel()
                await asyncio.gather(self._amd_task, return_exceptions=True)
            self._callbacks.put_nowait(None)
            try:
                await asyncio.wait_for(asyncio.shield(sender), 15.0)
            except (TimeoutError, asyncio.CancelledError):
                sender.cancel()
                await asyncio.gather(sender, return_exceptions=True)
            self.record.ended.set()

    async def _progress(self) -> None:
        if self.params.inbound:
            return await self._inbound()
        attempt = self._attempt()
        if await self._sleep(INITIATE_S):
            return self._end_early()
        self._set_status("initiated", callback="initiated")
        if await self._sleep(RING_START_S):
            return self._end_early()
        self._set_status("ringing", callback="ringing")
        timeout = float(self.params.timeout_s)
        if attempt.outcome in ("answer", "voicemail") and attempt.ring_seconds <= timeout:
            if await self._sleep(attempt.ring_seconds):
                return self._end_early()
        else:
            ring = timeout if attempt.outcome == "no-answer" else min(attempt.ring_seconds, timeout)
            if await self._sleep(ring):
                return self._end_early()
            outcome = attempt.outcome if attempt.outcome in ("busy", "failed") else "no-answer"
            self.record.end_reason = outcome
            self._terminal(outcome)
            return
        await self._answered(attempt)

    async def _answered(self, attempt: Attempt) -> None:
        loop = asyncio.get_running_loop()
        self._answered_at = loop.time()
        answered_by = self._answered_by(attempt)
        self._set_status("in-progress")
        extra: dict[str, str] = {}
        if answered_by is not None and not self.params.async_amd:
            await self._sleep(AMD_HUMAN_S if answered_by == "human" else AMD_MACHINE_S, interruptible=False)
            self.record.answered_by = extra["AnsweredBy"] = answered_by
        self._queue_callback("answered", "in-progress", extra)
        if answered_by is not None and self.params.async_amd:
            self._amd_task = asyncio.create_task(
                self._async_amd(answered_by), name=f"twilio-amd-{self.record.sid}"
            )
        verbs = self.params.verbs
        if verbs is None:
            verbs = await self._fetch_twiml(extra)
        try:
            await asyncio.wait_for(self._run_verbs(verbs, attempt), self._real(self.params.time_limit_s))
        except TimeoutError:
            self.record.end_reason = "time-limit"
            if self._stream is not None:
                self._stream.hang_up()
        self._terminal("completed")

    async def _inbound(self) -> None:
        """Our number rings; Twilio fetches its voice URL and runs the answer (no AMD, no ringing out)."""
        self._set_status("ringing")
        verbs = await self._fetch_twiml({}, call_status="ringing")
        self._answered_at = asyncio.get_running_loop().time()
        self._set_status("in-progress")
        try:
            await asyncio.wait_for(
                self._run_verbs(verbs, Attempt(outcome="answer")), self._real(self.params.time_limit_s)
            )
        except TimeoutError:
            self.record.end_reason = "time-limit"
            if self._stream is not None:
                self._stream.hang_up()
        self._terminal("completed")

    async def _gather(self, verb: GatherVerb) -> tuple[Verb, ...] | None:
        """Play the prompt, then the scenario's key (if any) goes to the action URL; its TwiML replaces ours."""
        for text in verb.says:
            self.record.said_by_app.append(text)
            if await self._sleep(len(text) / CHARS_PER_SECOND):
                return ()
        key = self._scenario.call_back_dtmf if self._scenario is not None else None
        if not key:
            await self._sleep(verb.timeout)
            return None
        self.record.digits_pressed.append(key[: verb.num_digits])
        if not verb.action:
            return None
        params = self.base_params("in-progress")
        params["Digits"] = key[: verb.num_digits]
        status, body = await self.webhook(verb.action, params, verb.method)
        if status is None or not 200 <= status < 300:
            return (SayVerb("An application error has occurred. Goodbye."),)
        try:
            return tuple(parse_twiml(body, field="Gather action response"))
        except ValidationError:
            return (SayVerb("An application error has occurred. Goodbye."),)

    async def _run_verbs(self, verbs: tuple[Verb, ...] | None, attempt: Attempt) -> None:
        while True:
            reason = await self._run_verb_list(verbs or (), attempt)
            if self._request == "redirect":
                verbs, self._request = self._redirect, None
                self._interrupt.clear()
                continue
            self.record.end_reason = reason
            return

    async def _run_verb_list(self, verbs: tuple[Verb, ...], attempt: Attempt) -> str:
        for verb in verbs:
            if self._interrupt.is_set():
                return "hangup-rest"
            if isinstance(verb, HangupVerb):
                return "twiml-hangup"
            if isinstance(verb, GatherVerb):
                follow = await self._gather(verb)
                if follow is not None:
                    return await self._run_verb_list(follow, attempt)
                continue
            if isinstance(verb, SayVerb):
                self.record.said_by_app.append(verb.text)
            if isinstance(verb, PauseVerb | SayVerb):
                seconds = verb.seconds if isinstance(verb, PauseVerb) else len(verb.text) / CHARS_PER_SECOND
                if await self._sleep(seconds):
                    return "hangup-rest"
                continue
            if isinstance(verb, SipVerb):
                gateway = self._ctx.sip_gateway_url()
                if gateway is None:
                    return "sip-unreachable"
                # No SIP stack offline: the customer is handed to the SIP side as a media stream
                # whose custom parameters are the INVITE's X- headers.
                verb = StreamVerb(url=gateway, parameters={**verb.headers, "sip_uri": verb.uri})
                self.record.sip_uri = verb.parameters["sip_uri"]
            reason = await self._run_stream(verb, attempt)
            if reason != "app-closed-stream":
                return reason
        return (
            "app-closed-stream" if any(isinstance(v, StreamVerb | SipVerb) for v in verbs) else "twiml-done"
        )

    async def _run_stream(self, verb: StreamVerb, attempt: Attempt) -> str:
        ctx = self._ctx
        if ctx.faults.refuse_stream:
            return "stream-refused"
        caller = build_caller(
            self._scenario,
            ctx.scenarios,
            outcome=attempt.outcome,
            log=self.record,
            seed=f"{self._scenario.name if self._scenario else ''}:{self.record.attempt}",
        )
        stream_ctx = StreamContext(
            account_sid=ctx.account_sid,
            auth_token=ctx.auth_token,
            speed=ctx.speed,
            open_timeout_s=ctx.stream_open_timeout_s,
            close_after_ms=ctx.faults.close_stream_after_ms,
            record_pacing=ctx.record_pacing,
            tls=ctx.tls,
        )
        impairments = self._scenario.impairments if self._scenario else None
        self._stream = MediaStream(verb, self.record, caller, stream_ctx, impairments)
        if self._interrupt.is_set():
            self._stream.hang_up()
        try:
            return await self._stream.run()
        finally:
            self._stream = None

    # -- helpers ----------------------------------------------------------------

    def _attempt(self) -> Attempt:
        scenario = self._scenario
        if scenario is None:
            return Attempt(outcome="answer", ring_seconds=self._ctx.scenarios.unknown_number.ring_seconds)
        if not scenario.attempts:
            return Attempt()
        return scenario.attempts[min(self.record.attempt, len(scenario.attempts) - 1)]

    def _answered_by(self, attempt: Attempt) -> str | None:
        mode = self.params.machine_detection
        if mode is None:
            return None
        if attempt.outcome == "voicemail":
            return "machine_end_beep" if mode == "DetectMessageEnd" else "machine_start"
        return "human" if self._scenario is not None else "unknown"

    async def _async_amd(self, answered_by: str) -> None:
        seconds = AMD_HUMAN_S if answered_by == "human" else AMD_MACHINE_S
        await asyncio.sleep(self._real(seconds))
        self.record.answered_by = answered_by
        if self.params.async_amd_callback:
            params = {
                "CallSid": self.record.sid,
                "AccountSid": self._ctx.account_sid,
                "AnsweredBy": answered_by,
                "MachineDetectionDuration": str(int(seconds * 1000)),
            }
            self._callbacks.put_nowait(
                ("amd", self.params.async_amd_callback, params, self.params.async_amd_method)
            )

    def _end_early(self) -> None:
        self.record.end_reason = "canceled-rest"
        self._terminal("canceled")

    def _terminal(self, status: str) -> None:
        extra = {"CallDuration": "0", "Duration": "0"}
        if status == "completed" and self._answered_at is not None:
            seconds = self._duration()
            self.record.duration_s = seconds
            extra = {"CallDuration": str(round(seconds)), "Duration": str(max(1, -(-round(seconds) // 60)))}
        elif status in ("busy", "no-answer", "canceled", "failed"):
            self.record.duration_s = 0.0
            extra["SipResponseCode"] = {"busy": "486", "no-answer": "487", "failed": "500"}.get(status, "487")
        self._set_status(status)
        self._queue_callback("completed", status, extra, always=True)

    def _duration(self) -> float:
        assert self._answered_at is not None
        return (asyncio.get_running_loop().time() - self._answered_at) * self._ctx.speed

    def _set_status(self, status: str, callback: str | None = None) -> None:
        self.record.add_status(status)
        log.debug("call %s: %s", self.record.sid, status)
        if callback is not None:
            self._queue_callback(callback, status, {})

    def _real(self, virtual_seconds: float) -> float:
        return virtual_seconds / self._ctx.speed

    async def _sleep(self, virtual_seconds: float, *, interruptible: bool = True) -> bool:
        """Sleep; True if a REST hang-up/cancel interrupted it."""
        if not interruptible:
            await asyncio.sleep(self._real(virtual_seconds))
            return False
        try:
            await asyncio.wait_for(self._interrupt.wait(), self._real(virtual_seconds))
        except TimeoutError:
            return False
        return self._request in ("hangup", "cancel")

    def base_params(self, status: str) -> dict[str, str]:
        record = self.record
        return {
            "CallSid": record.sid,
            "AccountSid": self._ctx.account_sid,
            "From": record.from_,
            "To": record.to,
            "Caller": record.from_,
            "Called": record.to,
            "Direction": "inbound" if self.params.inbound else "outbound-api",
            "ApiVersion": "2010-04-01",
            "CallStatus": status,
        }

    def _queue_callback(
        self, event: str, status: str, extra: dict[str, str], *, always: bool = False
    ) -> None:
        url = self.params.status_callback
        if not url or (event not in self.params.status_callback_events and not always):
            return
        params = self.base_params(status)
        params.update(extra)
        params["SequenceNumber"] = str(self._callback_seq)
        params["Timestamp"] = email.utils.format_datetime(dt.datetime.now(dt.UTC)).replace("-0000", "+0000")
        params["CallbackSource"] = "call-progress-events"
        self._callback_seq += 1
        self._callbacks.put_nowait(("status", url, params, self.params.status_callback_method))

    async def _send_callbacks(self) -> None:
        while (item := await self._callbacks.get()) is not None:
            kind, url, params, method = item
            if self._ctx.faults.callback_latency_ms:
                await asyncio.sleep(self._real(self._ctx.faults.callback_latency_ms / 1000))
            status, _ = await self.webhook(url, params, method)
            self.record.callbacks.append(
                CallbackRecord(
                    kind=kind,
                    call_status=params.get("CallStatus", params.get("AnsweredBy", "")),
                    sequence_number=int(params.get("SequenceNumber", "-1")),
                    http_status=status,
                    error="" if status is not None else "request failed",
                )
            )

    async def webhook(self, url: str, params: dict[str, str], method: str) -> tuple[int | None, str]:
        """A signed webhook request as Twilio sends it; returns (HTTP status or None, body)."""
        headers = {"User-Agent": "TwilioProxy/1.1", "Accept": "*/*"}
        try:
            if method == "GET":
                full = url + ("&" if "?" in url else "?") + urlencode(params)
                headers["X-Twilio-Signature"] = self._validator.compute_signature(full, {})
                request = self._ctx.http.get(yarl.URL(full, encoded=True), headers=headers)
            else:
                headers["X-Twilio-Signature"] = self._validator.compute_signature(url, params)
                request = self._ctx.http.post(yarl.URL(url, encoded=True), data=params, headers=headers)
            async with request as response:
                return response.status, await response.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("call %s: webhook failed: %s", self.record.sid, type(exc).__name__)
            return None, ""

    async def _fetch_twiml(
        self, extra: dict[str, str], call_status: str = "in-progress"
    ) -> tuple[Verb, ...] | None:
        assert self.params.url is not None
        params = self.base_params(call_status)
        params.update(extra)
        status, body = await self.webhook(self.params.url, params, self.params.method)
        if status is None or not 200 <= status < 300:
            self.record.callbacks.append(CallbackRecord("twiml", "in-progress", -1, status, "fetch failed"))
            return (SayVerb("An application error has occurred. Goodbye."),)
        self.record.callbacks.append(CallbackRecord("twiml", "in-progress", -1, status))
        try:
            return tuple(parse_twiml(body, field="Url response"))
        except ValidationError:
            self.record.callbacks.append(
                CallbackRecord("twiml", "in-progress", -1, status, "12100 parse failure")
            )
            return (SayVerb("An application error has occurred. Goodbye."),)
