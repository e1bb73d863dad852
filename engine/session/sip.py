"""SIP media mode: Twilio bridges the call to the OpenAI project's SIP endpoint; no audio here.

The dial TwiML is ``<Dial><Sip>`` to ``OPENAI_SIP_URI`` with custom ``X-`` headers naming the
session and attempt and carrying the per-attempt token (:func:`sip_headers`). OpenAI then
POSTs a signed ``realtime.call.incoming`` webhook (to any host: :class:`SipWebhook` verifies it
with the openai SDK, refuses replays and calls it cannot place, and hands the call to the
session's host), and the session accepts it with its instructions, tools and transcription
settings (``realtime.calls.accept``), follows it over the sideband WebSocket
(``?call_id=``) and steers it exactly as the Media Streams bridge does: the same
:class:`~engine.session.bridge_events.RealtimeHandler` (tools, transcript, consent, timers,
metrics) handles the sideband's events. What differs is what the sideband tells:

- no audio events: the AI's speech is timed by ``output_audio_buffer.started/stopped``
  (the goodbye has been heard when its response's buffer stopped), not by Twilio marks;
- barge-in is the server's own (``interrupt_response``; ``output_audio_buffer.cleared``);
- the keypad comes as ``input_audio_buffer.dtmf_event_received``;
- the call ends with ``realtime.calls.hangup`` (and Twilio's hang-up by SID, as always).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
import openai

from engine.config import OpenAISettings
from engine.errors import UnavailableError
from engine.realtime import events as rt
from engine.realtime.connection import RealtimeSocket, WebSocketRealtimeConnector
from engine.session.bridge import RESTORE_SECONDS, Bridge, raise_task_failure
from engine.session.state import Event
from engine.telephony.attempt_token import SIP_HEADER

SESSION_HEADER = "X-Callengine-Session"
ATTEMPT_HEADER = "X-Callengine-Attempt"
TOKEN_HEADER = SIP_HEADER
REPLAY_WINDOW_SECONDS = 330.0
"""The SDK refuses a webhook whose timestamp is more than 300 s off; ids are kept a little longer."""
REPLAY_MEMORY = 50_000
SIP_REJECT_FORBIDDEN = 403
SIP_REJECT_NOT_FOUND = 404
SIP_REJECT_BUSY = 486


def sip_uri(settings: OpenAISettings) -> str:
    return settings.sip_uri.format(project=settings.sip_project_id)


def sip_headers(session_id: str, attempt: int, token: str) -> dict[str, str]:
    """The ``X-`` headers Twilio passes into the INVITE (OpenAI hands them to the webhook)."""
    return {SESSION_HEADER: session_id, ATTEMPT_HEADER: str(attempt), TOKEN_HEADER: token}


class SipCalls:
    """``realtime.calls`` and ``webhooks.unwrap`` of the openai SDK, built once per host."""

    def __init__(self, settings: OpenAISettings, *, timeout_s: float = 10.0) -> None:
        self._settings = settings
        self.client = openai.AsyncOpenAI(
            api_key=settings.api_key.get() or "unset",
            base_url=settings.base_url,
            webhook_secret=settings.webhook_secret.get() or None,
            timeout=timeout_s,
            max_retries=2,
        )

    def unwrap(self, body: bytes, headers: Mapping[str, str]) -> Any:
        """The verified event; raises ``openai.InvalidWebhookSignatureError`` (or ValueError)."""
        return self.client.webhooks.unwrap(body, dict(headers))

    async def accept(self, call_id: str, fields: dict[str, Any]) -> None:
        await self.client.realtime.calls.accept(call_id, **fields)

    async def reject(self, call_id: str, status_code: int) -> None:
        await self.client.realtime.calls.reject(call_id, status_code=status_code)

    async def hangup(self, call_id: str) -> None:
        await self.client.realtime.calls.hangup(call_id)

    def sideband(self, call_id: str) -> WebSocketRealtimeConnector:
        return WebSocketRealtimeConnector(self._settings, call_id=call_id)

    async def aclose(self) -> None:
        await self.client.close()


# ---------------------------------------------------------------------------- the webhook


@dataclass(frozen=True)
class IncomingCall:
    call_id: str
    session_id: str
    attempt: int
    token: str


class WebhookRefused(Exception):
    """The webhook is not acted on; ``kind`` counts it, ``status`` answers it."""

    def __init__(self, kind: str, status: int = 400, call_id: str | None = None, sip_status: int = 0):
        super().__init__(kind)
        self.kind = kind
        self.status = status
        self.call_id = call_id
        self.sip_status = sip_status


class SipWebhook:
    """Verification of ``realtime.call.incoming``: signature, replay, headers (no I/O but the SDK's)."""

    def __init__(self, calls: SipCalls, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._calls = calls
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def verify(self, body: bytes, headers: Mapping[str, str]) -> IncomingCall | None:
        """The call the webhook announces; None for another event type (acknowledged, ignored)."""
        try:
            event = self._calls.unwrap(body, headers)
        except openai.InvalidWebhookSignatureError as exc:
            raise WebhookRefused("sip_forged_signature", 400) from exc
        except (ValueError, TypeError, msgspec.ValidationError) as exc:
            raise WebhookRefused("sip_malformed", 400) from exc
        webhook_id = headers.get("webhook-id") or headers.get("Webhook-Id") or ""
        self._remember(webhook_id)
        if getattr(event, "type", None) != "realtime.call.incoming":
            return None
        call_id = event.data.call_id
        found = {h.name.lower(): h.value for h in event.data.sip_headers}
        session_id = found.get(SESSION_HEADER.lower(), "")
        token = found.get(TOKEN_HEADER.lower(), "")
        try:
            attempt = int(found.get(ATTEMPT_HEADER.lower(), ""))
        except ValueError:
            attempt = 0
        if not session_id or not token or attempt < 1:
            raise WebhookRefused("sip_unknown_session", 200, call_id, SIP_REJECT_NOT_FOUND)
        return IncomingCall(call_id, session_id, attempt, token)

    def _remember(self, webhook_id: str) -> None:
        now = self._clock()
        while self._seen and (
            len(self._seen) > REPLAY_MEMORY or next(iter(self._seen.values())) < now - REPLAY_WINDOW_SECONDS
        ):
            self._seen.popitem(last=False)
        if not webhook_id:
            raise WebhookRefused("sip_malformed", 400)
        if webhook_id in self._seen:
            # Acknowledged (so it is not sent again) but never acted on twice.
            raise WebhookRefused("sip_replayed_webhook", 200)
        self._seen[webhook_id] = now


# ---------------------------------------------------------------------------- the session side


class _NoMedia:
    """The bridge's Twilio socket in SIP mode: there is none (the audio stays at OpenAI)."""

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        return self

    async def __anext__(self) -> str | bytes:
        await asyncio.Future()  # never: the call's end comes from the sideband or Twilio
        raise StopAsyncIteration

    async def recv(self) -> str | bytes:
        return await self.__anext__()

    async def send(self, message: str | bytes) -> None:
        return None

    def send_now(self, message: str) -> bool:
        return True  # nothing to carry; lets the sideband reader run in push mode

    async def close(self, code: int = 1000, reason: str = "") -> None:
        return None


NO_MEDIA = _NoMedia()


class SipBridge(Bridge):
    """The Bridge over a SIP call's sideband: same event handling, no audio (module docstring)."""

    timer_poll_seconds = 1.0
    """Here the end of the goodbye is an event (``output_audio_buffer.stopped``), not a media
    clock to poll; the timers themselves still fire on time (their own deadlines). Measured:
    0.25 s polling was ~40 % of a SIP call's CPU (docs/benchmarks.md)."""

    def __init__(self, *, sip: SipCalls, call_id: str, **kwargs: Any) -> None:
        super().__init__(twilio_ws=NO_MEDIA, stream_sid="sip", **kwargs)
        self._sip = sip
        self.call_id = call_id
        self._accepted = False
        self._playing: str | None = None
        """The response whose audio the caller is hearing now (buffer started, not stopped)."""
        self._heard: set[str] = set()
        """Responses whose audio buffer stopped (the caller heard them to the end)."""
        self._last_done: str | None = None
        self.metrics.media = "sip"

    # ---------------------------------------------------------------- no Twilio socket
    def send_twilio(self, frame: str) -> None:
        return None

    def clear_twilio(self) -> None:
        return None

    async def _twilio_writer(self) -> None:
        await asyncio.Future()  # nothing to write: cancelled at the end

    def renew_realtime(self) -> None:
        """A SIP call's session lives as long as the call: a new sideband would not renew it."""
        return None

    # ---------------------------------------------------------------- the sideband
    async def _open_realtime(self, restore: bool) -> RealtimeSocket:
        t0 = self.clock.monotonic()
        if not self._accepted:
            await self._sip.accept(self.call_id, rt.sip_accept_fields(self._session_update()))
            self._accepted = True
            self.api_sent("session")  # answered by the sideband's session.updated, if it sends one
        ws = await self._sip.sideband(self.call_id)()
        self.metrics.on_api_latency((self.clock.monotonic() - t0) * 1000)
        if not restore or self.needs_response_after_restore():
            await ws.send(rt.response_create())
            self.api_sent("response")
        return ws

    async def _realtime(self) -> None:
        """Accept and follow the call; a sideband that closes normally means the call is over."""
        restore = False
        while True:
            try:
                ws = await (self._reconnect() if restore else self._open_realtime(restore=False))
            except (UnavailableError, openai.OpenAIError, OSError, TimeoutError) as exc:
                self.log.warning("sip call could not be %s (%s)", "followed" if restore else "accepted",
                                 type(exc).__name__)  # fmt: skip
                self.metrics.error("realtime_unavailable", self.ms())
                self.end(Event.REALTIME_LOST)
                return
            raise_task_failure(await self._follow(ws, "sideband"))
            if ws.close_code in (1000, 1001, None):
                # OpenAI closed the sideband: the SIP call is over (the customer hung up).
                self.end(self.pending_end or self.hang_up_event())
                return
            self.log.warning("sip sideband dropped (%s); re-attaching", ws.close_code)
            self.metrics.error("realtime_dropped", self.ms())
            restore = True

    async def _reconnect(self) -> RealtimeSocket:
        deadline = self.clock.monotonic() + RESTORE_SECONDS
        delay = 0.05
        while True:
            try:
                ws = await self._open_realtime(restore=True)
                self.metrics.error("realtime_restored", self.ms())
                return ws
            except (UnavailableError, OSError, TimeoutError) as exc:
                if self.clock.monotonic() + delay >= deadline:
                    raise UnavailableError("sip sideband could not be re-attached") from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)

    async def run(self) -> Event:
        try:
            return await super().run()
        finally:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5.0):
                    await self._sip.hangup(self.call_id)  # the call may be over already

    # ---------------------------------------------------------------- what the sideband says
    def on_realtime_event(self, raw: str | bytes) -> str | tuple[str, ...] | None:
        try:
            ev = rt.decode(raw)
        except rt.RealtimeDecodeError:
            self.bad_input("realtime", "malformed")
            return None
        kind = type(ev)
        if kind is rt.AudioBufferStarted:
            self._audio_started(ev.response_id)  # type: ignore[union-attr]
        elif kind is rt.AudioBufferStopped:
            self._audio_stopped(ev.response_id, heard=True)  # type: ignore[union-attr]
        elif kind is rt.AudioBufferCleared:
            self._audio_stopped(ev.response_id, heard=False)  # type: ignore[union-attr]
        elif kind is rt.DtmfReceived:
            if ev.event == self._opt_out_digit:  # type: ignore[union-attr]
                self.log.info("opt-out by keypad")
                self.opt_out()
                self.end(Event.OPTED_OUT)
        elif kind is rt.AudioDelta:
            self.bad_input("realtime", "audio_on_sideband")  # the real API never sends it here
        else:
            if kind is rt.ResponseDone:
                self._last_done = ev.response.id or ""  # type: ignore[union-attr]
            return super().on_realtime_event(raw)
        return None

    def _audio_started(self, response_id: str) -> None:
        now = self.clock.monotonic()
        self._playing = response_id or "?"
        if self._turn_stopped_at is not None:
            self.metrics.on_turn_latency((now - self._turn_stopped_at) * 1000)
            self._turn_stopped_at = None
        if response_id not in self._reminder_responses:
            self._ai_busy = True
            self.timers.ai_started(now)

    def _audio_stopped(self, response_id: str, *, heard: bool) -> None:
        if heard and response_id:
            self._heard.add(response_id)
        if self._playing is None:
            self.check_end()
            return
        self._playing = None
        if response_id not in self._reminder_responses or not heard:
            self._ai_stopped(heard=heard)
        self.check_end()

    def check_end(self) -> None:
        # The goodbye has been heard when its response's buffer stopped (no marks here).
        if self.pending_end is None or not self._end_response_done or self._playing is not None:
            return
        goodbye = self._end_response or self._last_done
        if goodbye is not None and goodbye in self._spoke_in and goodbye not in self._heard:
            return  # spoken, not yet played out (the buffer events trail response.done)
        self.end(self.pending_end)


SipRouter = Callable[[IncomingCall], Awaitable[str]]
"""Hands a verified call to the host that holds its session (a Ray call): that host's
:meth:`~engine.session.host.CallHost.take_sip_call` answer (``unknown`` if no host holds it)."""
