"""CallHost: many CallSessions behind ONE HTTP listener (media streams + status callbacks).

Plain asyncio, no Ray: the SessionHost actor (actors/) is a thin shell over it.
One port (:class:`~engine.session.listener.HostListener`, aiohttp) serves
``GET /media/<session_id>`` (the Twilio Media Streams WebSocket upgrade) and
``POST /status/<session_id>?t=<token>`` (Twilio status callbacks as a signed form
body, so the customer's number never sits in a request line a proxy logs).
``POST /voice`` is the caller id's voice URL (call-backs: :mod:`engine.session.inbound`).
``/healthz`` answers 200. Other features mount their routes on ``listener``.
Both routes also answer under the path of the host's public URL
(``CALLENGINE_PUBLIC_URL_TEMPLATE``, :mod:`engine.telephony.public_url`), so a TLS
proxy can forward ``/<node_ip>/<port>/media/…`` unchanged; signatures are checked
against that public URL, the one Twilio requested and signed.

Every callback and stream is bound to one dial attempt: the per-attempt token
(:mod:`engine.telephony.attempt_token`) must name this session *and its current
attempt*, and the Twilio CallSid must be this attempt's. Bad input never reaches
a session: a forged signature or token, a replay from another attempt, a CallSid
of another call, a stream for an unknown or finished session, and malformed first
frames are refused and counted (``rejected``, by kind); the host carries on.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, OrderedDict
from collections.abc import Callable
from urllib.parse import urlsplit

from aiohttp import web
from websockets.exceptions import ConnectionClosed

from engine.clock import Clock, SystemClock
from engine.config import Settings
from engine.config_checks import host_ports
from engine.dispatch.breaker import REALTIME, CircuitBreaker
from engine.errors import ConfigError, ConflictError, ResourceExhaustedError
from engine.realtime.connection import RealtimeConnector, WebSocketRealtimeConnector
from engine.realtime.models import warn_deprecated
from engine.session import language
from engine.session.call import CallRequest, CallSession, SessionDeps, SessionOutcome, StatusCallback
from engine.session.inbound import VOICE_PATH, voice_route
from engine.session.listener import HostListener
from engine.session.media_socket import AiohttpMediaSocket
from engine.session.sip import (
    SIP_REJECT_BUSY,
    SIP_REJECT_FORBIDDEN,
    SIP_REJECT_NOT_FOUND,
    IncomingCall,
    SipCalls,
    SipRouter,
    SipWebhook,
    WebhookRefused,
)
from engine.session.store import SessionStore
from engine.telephony import inbound, media, public_url, twiml
from engine.telephony.attempt_token import AttemptTokens, Verdict
from engine.telephony.destinations import DestinationGuard
from engine.telephony.rest import TwilioCalls, TwilioCallsFactory, rest_calls_factory
from engine.telephony.security import SignatureChecker

log = logging.getLogger("engine.session.host")

STREAM_START_TIMEOUT = 5.0
SHUTDOWN_GRACE_SECONDS = 5.0
FINISHED_MEMORY = 2000
"""Recently finished sessions whose late status callbacks are acknowledged quietly."""


class CallHost:
    """Hosts up to ``settings.host.sessions_per_host`` calls; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        store: SessionStore,
        twilio_client_factory: TwilioCallsFactory = rest_calls_factory,
        realtime_connector: RealtimeConnector | None = None,
        *,
        clock: Clock | None = None,
        on_outcome: Callable[[SessionOutcome], None] | None = None,
        collect_outcomes: bool = True,
        host_id: str = "host",
        node_ip: str | None = None,
        sip_router: SipRouter | None = None,
    ) -> None:
        self.settings = settings
        self.host_id = host_id
        self._node_ip = node_ip
        self._store = store
        self._twilio_factory = twilio_client_factory
        self._connector = realtime_connector or WebSocketRealtimeConnector(settings.openai)
        self._clock = clock or SystemClock()
        self._on_outcome = on_outcome
        self.outcomes: asyncio.Queue[SessionOutcome] | None = asyncio.Queue() if collect_outcomes else None
        # Refuses an empty or malformed auth token: every callback's signature depends on it.
        self._signatures = SignatureChecker(settings.twilio.auth_token.get())
        # Keyed from the auth token, so any node can check a token another node issued.
        self._tokens = AttemptTokens(settings.twilio.auth_token.get())
        self._sessions: dict[str, CallSession] = {}
        self._tasks: dict[str, asyncio.Task[SessionOutcome]] = {}
        hs = settings.host
        self.listener = HostListener(
            max_connections=hs.max_connections, handshake_timeout=hs.handshake_timeout_seconds
        )
        # Also under a prefix: a TLS proxy routes /<node_ip>/<port>/… here without stripping it
        # (the public URL carries the prefix; _misrouted refuses any other one).
        for prefix in ("", "/{prefix:.+}"):
            self.listener.route("POST", prefix + "/status/{session_id}", self._status)
            self.listener.route("GET", prefix + "/media/{session_id}", self._media)
            self.listener.route("POST", prefix + VOICE_PATH, voice_route(self))
        self.listener.route("GET", "/healthz", self._healthz)
        # SIP media mode: OpenAI's realtime.call.incoming webhook, on every host (any may get it).
        uses_sip = settings.session.media_mode == "sip" or any(
            e.partition("=")[2].strip() == "sip" for e in settings.session.media_mode_stores
        )
        self._sip = SipCalls(settings.openai) if uses_sip else None
        self._sip_hook = SipWebhook(self._sip) if self._sip is not None else None
        self._sip_router = sip_router
        self._realtime_breaker = CircuitBreaker(REALTIME)
        for prefix in ("", "/{prefix:.+}"):
            self.listener.route("POST", prefix + "/openai/sip", self._sip_webhook)
        self._started = False
        self._twilio: TwilioCalls | None = None
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._draining = False
        self.port = 0
        self.public_url = ""
        self._public_path = ""
        self.rejected: Counter[str] = self.listener.rejected
        """Bad input refused at the host, by kind (no personal data)."""

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        hs = self.settings.host
        openai = self.settings.openai
        warn_deprecated(
            {
                "OPENAI_REALTIME_MODEL": openai.realtime_model,
                "OPENAI_TRANSCRIPTION_MODEL": openai.transcription_model,
            }
        )
        if not language.reports_languages(openai.transcription_model):
            # This transcription model names no language: identify it locally (seconds to load, once).
            await asyncio.to_thread(language.enable_fallback)
        # The last check before any dial: only allowed destination country codes.
        self._twilio = DestinationGuard(
            self._twilio_factory(self.settings.twilio), self.settings.dispatch.allowed_country_codes
        )
        self.port = await self.listener.start(hs.bind_host, hs.port, ports=host_ports(hs))
        self._started = True
        try:
            # Signatures are checked against this URL: it is what Twilio requests and signs.
            self.public_url = public_url.render(
                hs.public_url_template,
                node_ip=public_url.node_address(hs.bind_host, self._node_ip),
                port=self.port,
                host_id=self.host_id,
            )
            if not self.settings.twilio.api_base_url:  # real Twilio, not an emulator
                public_url.check_for_twilio(self.public_url)
        except ConfigError:
            await self.stop()
            raise
        self._public_path = urlsplit(self.public_url).path.rstrip("/")
        log.info(
            "call host listening on %s:%d (public %s, %d slots)",
            hs.bind_host,
            self.port,
            self.public_url,
            self.capacity,
        )

    @property
    def capacity(self) -> int:
        return self.settings.host.sessions_per_host

    @property
    def active(self) -> int:
        return len(self._sessions)

    @property
    def free_slots(self) -> int:
        return 0 if self._draining else max(0, self.capacity - self.active)

    @property
    def draining(self) -> bool:
        return self._draining

    async def drain(self, deadline_s: float | None = None) -> None:
        """Take no new calls; let live calls finish until the deadline, then end them cleanly."""
        self._draining = True
        deadline = self.settings.host.drain_seconds if deadline_s is None else deadline_s
        tasks = list(self._tasks.values())
        if tasks:
            await asyncio.wait(tasks, timeout=max(0.0, deadline))
        for session in list(self._sessions.values()):
            session.request_shutdown()
        tasks = list(self._tasks.values())
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_SECONDS)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=SHUTDOWN_GRACE_SECONDS)

    async def stop(self) -> None:
        await self.drain(0.0)
        if self._started:
            await self.listener.stop(SHUTDOWN_GRACE_SECONDS)
            self._started = False
        if self._twilio is not None:
            await self._twilio.aclose()
            self._twilio = None
        if self._sip is not None:
            await self._sip.aclose()

    async def __aenter__(self) -> CallHost:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ calls
    @property
    def store(self) -> SessionStore:
        return self._store

    @property
    def signatures(self) -> SignatureChecker:
        return self._signatures

    async def start_call(self, request: CallRequest) -> None:
        """Place the call; returns once Twilio accepted it, raises if it could not be placed.

        The outcome arrives later on ``outcomes`` / ``on_outcome``.
        """
        session = self._admit(request)
        await asyncio.shield(session.dialled)

    async def accept_inbound(self, waiting: inbound.Waiting, call: inbound.InboundCall) -> str:
        """Take a customer's call-back as the interview of their waiting session; returns its TwiML."""
        request = CallRequest(
            waiting.session_id,
            waiting.store_id,
            call.from_number,
            waiting.attempt,
            inbound_call_sid=call.call_sid,
        )
        session = self._admit(request)
        await asyncio.shield(session.dialled)
        return session.stream_twiml()

    def _admit(self, request: CallRequest) -> CallSession:
        if self._twilio is None or not self._started:
            raise ConflictError("call host is not started")
        if self._draining:
            raise ResourceExhaustedError("call host is draining")
        if self.active >= self.capacity:
            raise ResourceExhaustedError(f"call host is full ({self.capacity} slots)")
        if request.session_id in self._sessions:
            raise ConflictError(f"session {request.session_id} is already live on this host")
        deps = SessionDeps(
            settings=self.settings,
            store=self._store,
            twilio=self._twilio,
            connector=self._connector,
            clock=self._clock,
            tokens=self._tokens,
            public_url=self.public_url,
            sip=self._sip,
            realtime_breaker=self._realtime_breaker,
        )
        session = CallSession(request, deps)
        self._sessions[request.session_id] = session
        task = asyncio.create_task(self._supervise(session), name=f"session-{request.session_id}")
        self._tasks[request.session_id] = task
        return session

    def session(self, session_id: str) -> CallSession | None:
        return self._sessions.get(session_id)

    def take_twilio_throttle(self) -> float:
        """The longest wait a Twilio 429 asked of this host since the last call (0: none)."""
        take = getattr(self._twilio, "take_throttle", None)
        return float(take()) if take is not None else 0.0

    def session_ids(self) -> list[str]:
        """Ids of the calls live on this host."""
        return list(self._sessions)

    def cancel_call(self, session_id: str) -> bool:
        """Cancel a live call (not retried; a connected call ends now). False if not here."""
        session = self._sessions.get(session_id)
        if session is None:
            return False
        session.cancel()
        return True

    async def _supervise(self, session: CallSession) -> SessionOutcome:
        try:
            outcome = await session.run()
        except asyncio.CancelledError:
            outcome = session.outcome()
            self._publish(outcome)
            raise
        finally:
            self._sessions.pop(session.id, None)
            self._tasks.pop(session.id, None)
            self._finished[session.id] = None
            while len(self._finished) > FINISHED_MEMORY:
                self._finished.popitem(last=False)
        self._publish(outcome)
        return outcome

    def _publish(self, outcome: SessionOutcome) -> None:
        if self.outcomes is not None:
            self.outcomes.put_nowait(outcome)
        if self._on_outcome is not None:
            try:
                self._on_outcome(outcome)
            except Exception:
                log.exception("outcome callback failed for session %s", outcome.session_id)

    # ------------------------------------------------------------------ HTTP: status callbacks
    def _reject(self, status: int, kind: str, session_id: str) -> web.Response:
        self.rejected[kind] += 1
        log.warning("[session=%s] rejected request: %s", session_id[:64], kind)
        return web.Response(status=status, text="refused\n")

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    def _misrouted(self, request: web.Request, kind: str, session_id: str) -> bool:
        """True unless the path is this host's public one (or the bare one, prefix stripped).

        A proxy that sent another host's traffic here would fail the signature check
        anyway (Twilio signed that host's URL); this names the mistake.
        """
        path = request.rel_url.raw_path
        return path not in (f"{self._public_path}/{kind}/{session_id}", f"/{kind}/{session_id}")

    async def _status(self, request: web.Request) -> web.Response:
        session_id = request.match_info["session_id"]
        if self._misrouted(request, "status", session_id):
            return self._reject(404, "misrouted", session_id)
        try:
            form = await request.post()
        except (web.HTTPRequestEntityTooLarge, ValueError):
            return self._reject(413, "status_body", session_id)
        params = {k: v for k, v in form.items() if isinstance(v, str)}
        query = request.query_string
        url = twiml.status_url(self.public_url, session_id) + ("?" + query if query else "")
        if not self._signatures.valid(url, request.headers.get("x-twilio-signature"), params):
            return self._reject(403, "forged_signature", session_id)
        session = self._sessions.get(session_id)
        if session is None:
            if session_id in self._finished:
                return web.Response(status=204)  # e.g. the final "completed"
            return self._reject(404, "status_unknown_session", session_id)
        verdict = self._tokens.check(request.query.get("t"), session_id, session.request.attempt)
        if verdict is not Verdict.OK:
            return self._reject(403, _token_kind(verdict), session_id)
        call_sid = params.get("CallSid", "")
        if session.call_sid is not None and call_sid != session.call_sid:
            return self._reject(403, "callsid_mismatch", session_id)
        try:
            sequence = int(params.get("SequenceNumber", "0") or 0)
        except ValueError:
            sequence = 0
        session.on_status(
            StatusCallback(
                call_status=params.get("CallStatus", ""),
                sequence=sequence,
                answered_by=params.get("AnsweredBy") or None,
                call_sid=call_sid or None,
                # the token proved which attempt this callback belongs to
                attempt=session.request.attempt,
            )
        )
        return web.Response(status=204)

    # ------------------------------------------------------------------ HTTP: the SIP webhook
    async def _sip_webhook(self, request: web.Request) -> web.Response:
        """``realtime.call.incoming``: verified, then handed to the session's host (here or by Ray).

        Answers 200 to whatever was verified (OpenAI need not send it again), also when the
        call is refused: a refused call is rejected with a SIP status through the API."""
        if self._sip_hook is None or self._sip is None:
            return self._reject(404, "sip_not_enabled", "-")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._reject(413, "sip_body", "-")
        try:
            incoming = self._sip_hook.verify(body, request.headers)
        except WebhookRefused as refused:
            self.rejected[refused.kind] += 1
            log.warning("sip webhook refused: %s", refused.kind)
            if refused.call_id and refused.sip_status:
                await self._sip_reject(refused.call_id, refused.sip_status)
            return web.Response(status=refused.status, text="refused\n")
        if incoming is None:
            return web.Response(status=200)
        verdict = self._tokens.check(incoming.token, incoming.session_id, incoming.attempt)
        if verdict is not Verdict.OK:
            self.rejected[f"sip_{_token_kind(verdict)}"] += 1
            log.warning("[session=%s] sip call refused: %s", incoming.session_id[:64], _token_kind(verdict))
            await self._sip_reject(incoming.call_id, SIP_REJECT_FORBIDDEN)
            return web.Response(status=200)
        answer = self.take_sip_call(incoming)
        if answer == "unknown" and self._sip_router is not None:
            answer = await self._sip_router(incoming)
        if answer != "accepted":
            self.rejected[f"sip_{answer}"] += 1
            log.warning("[session=%s] sip call refused: %s", incoming.session_id[:64], answer)
            status = {"busy": SIP_REJECT_BUSY, "replayed_attempt": SIP_REJECT_FORBIDDEN}
            await self._sip_reject(incoming.call_id, status.get(answer, SIP_REJECT_NOT_FOUND))
        return web.Response(status=200)

    def take_sip_call(self, incoming: IncomingCall) -> str:
        """Give a verified SIP call to its session if it lives here: ``accepted``, ``unknown``
        (not here), ``replayed_attempt`` (another attempt's call) or ``busy`` (it has its call)."""
        session = self._sessions.get(incoming.session_id)
        if session is None:
            return "unknown"
        if incoming.attempt != session.request.attempt:
            return "replayed_attempt"
        return "accepted" if session.on_sip_call(incoming.call_id) else "busy"

    async def _sip_reject(self, call_id: str, status: int) -> None:
        assert self._sip is not None
        try:
            async with asyncio.timeout(5.0):
                await self._sip.reject(call_id, status)
        except Exception as exc:  # the call may be gone already; OpenAI times it out anyway
            log.warning("sip reject failed: %s", type(exc).__name__)

    # ------------------------------------------------------------------ WebSocket: media streams
    async def _media(self, request: web.Request) -> web.StreamResponse:
        session_id = request.match_info["session_id"]
        if self._misrouted(request, "media", session_id):
            return self._reject(404, "misrouted", session_id)
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return self._reject(400, "media_not_websocket", session_id)
        signature = request.headers.get("x-twilio-signature")
        if not self._signatures.valid(twiml.media_url(self.public_url, session_id), signature):
            return self._reject(403, "forged_signature", session_id)
        session = self._sessions.get(session_id)
        if session is None or not session.accepts_stream():
            return self._reject(404, "stream_unknown_session", session_id)
        ws = web.WebSocketResponse(
            max_msg_size=media.MAX_FRAME_BYTES,
            compress=False,
            autoping=True,
            heartbeat=None,  # Twilio keeps the stream alive; pings would only add traffic
        )
        await ws.prepare(request)
        socket = AiohttpMediaSocket(ws, request.transport)  # type: ignore[arg-type]
        start: media.Start | None = None
        try:
            async with asyncio.timeout(self.settings.host.handshake_timeout_seconds):
                while start is None:
                    event = media.decode(await socket.recv())
                    if isinstance(event, media.Start):
                        start = event
                    elif not isinstance(event, media.Connected):
                        raise media.MediaDecodeError("before_start", type(event).__name__)
        except (TimeoutError, media.MediaDecodeError, ConnectionClosed) as exc:
            kind = exc.kind if isinstance(exc, media.MediaDecodeError) else type(exc).__name__
            self.rejected[f"stream_{kind}"] += 1
            log.warning("[session=%s] stream closed before a valid start (%s)", session_id, kind)
            await socket.close(1008, "bad stream start")
            return ws
        verdict = self._tokens.check(
            start.start.customParameters.get("token"), session_id, session.request.attempt
        )
        if verdict is not Verdict.OK:
            return await self._refuse_stream(socket, ws, _token_kind(verdict), session_id)
        if session.call_sid is None:  # the REST reply may trail the stream by a moment
            try:
                async with asyncio.timeout(self.settings.host.handshake_timeout_seconds):
                    await asyncio.shield(session.dialled)
            except Exception:
                pass
        if session.call_sid is None or start.start.callSid != session.call_sid:
            return await self._refuse_stream(socket, ws, "callsid_mismatch", session_id)
        if session is not self._sessions.get(session_id) or not session.accepts_stream():
            return await self._refuse_stream(socket, ws, "stream_finished_session", session_id)
        await session.serve_stream(socket, start)
        return ws

    async def _refuse_stream(
        self, socket: AiohttpMediaSocket, ws: web.WebSocketResponse, kind: str, session_id: str
    ) -> web.WebSocketResponse:
        self.rejected[kind] += 1
        log.warning("[session=%s] stream refused: %s", session_id, kind)
        await socket.close(1008, "forbidden")
        return ws


def _token_kind(verdict: Verdict) -> str:
    """Counter name for a refused token; a genuine token of another attempt is a replay."""
    return "replayed_attempt" if verdict is Verdict.OTHER_ATTEMPT else f"token_{verdict.value}"
