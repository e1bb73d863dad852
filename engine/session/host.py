"""CallHost: many CallSessions behind ONE websockets server (media streams + status callbacks).

Plain asyncio, no Ray: the SessionHost actor (actors/) is a thin shell over it.
One port serves ``/media/<session_id>`` (Twilio Media Streams WebSocket) and
``GET /status/<session_id>?…`` (Twilio status callbacks, answered in the
server's ``process_request`` hook; ``StatusCallbackMethod=GET`` puts every
field in the signed URL). ``/healthz`` answers 200.

Bad input never reaches a session: a forged signature or token, a stream for
an unknown or finished session, and malformed first frames are refused with a
log line and a counter; the host carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from urllib.parse import parse_qs

import websockets
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from engine.clock import Clock, SystemClock
from engine.config import Settings
from engine.errors import ConflictError, ResourceExhaustedError
from engine.realtime.connection import RealtimeConnector, WebSocketRealtimeConnector
from engine.realtime.models import warn_deprecated
from engine.session import language
from engine.session.call import CallRequest, CallSession, SessionDeps, SessionOutcome, StatusCallback
from engine.session.inbound import TWIML_CONTENT_TYPE, VOICE_PATH, voice_webhook
from engine.session.store import SessionStore
from engine.telephony import inbound, media, twiml
from engine.telephony.rest import TwilioCalls, TwilioCallsFactory, rest_calls_factory
from engine.telephony.security import SignatureChecker, StreamTokens

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
    ) -> None:
        self.settings = settings
        self._store = store
        self._twilio_factory = twilio_client_factory
        self.host_id = host_id
        self._connector = realtime_connector or WebSocketRealtimeConnector(settings.openai)
        self._clock = clock or SystemClock()
        self._on_outcome = on_outcome
        self.outcomes: asyncio.Queue[SessionOutcome] | None = asyncio.Queue() if collect_outcomes else None
        self.signatures = SignatureChecker(settings.twilio.auth_token.get())
        # Streams come back to the host that issued the token, so a per-host secret suffices.
        self._tokens = StreamTokens(secrets.token_hex(32))
        self._sessions: dict[str, CallSession] = {}
        self._tasks: dict[str, asyncio.Task[SessionOutcome]] = {}
        self._server: Server | None = None
        self._twilio: TwilioCalls | None = None
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._draining = False
        self.port = 0
        self.public_url = ""
        self.rejected: Counter[str] = Counter()
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
        self._twilio = self._twilio_factory(self.settings.twilio)
        self._server = await serve(
            self._handler,
            hs.bind_host,
            hs.port,
            process_request=self._process_request,
            compression=None,
            max_size=media.MAX_FRAME_BYTES,
            max_queue=64,
            ping_interval=None,  # Twilio keeps the stream alive; pings would only add traffic
            close_timeout=2,
        )
        sockname = next(iter(self._server.sockets)).getsockname()
        self.port = int(sockname[1])
        self.public_url = hs.public_url_template.format(host=hs.bind_host, port=self.port).rstrip("/")
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
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SHUTDOWN_GRACE_SECONDS):
                    await self._server.wait_closed()
            self._server = None
        if self._twilio is not None:
            await self._twilio.aclose()
            self._twilio = None

    async def __aenter__(self) -> CallHost:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ calls
    @property
    def store(self) -> SessionStore:
        return self._store

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
        if self._twilio is None or self._server is None:
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
        )
        session = CallSession(request, deps)
        self._sessions[request.session_id] = session
        task = asyncio.create_task(self._supervise(session), name=f"session-{request.session_id}")
        self._tasks[request.session_id] = task
        return session

    async def start_call(self, request: CallRequest) -> None:
        """Place the call; returns once Twilio accepted it, raises if it could not be placed.

        The outcome arrives later on ``outcomes`` / ``on_outcome``.
        """
        session = self._admit(request)
        await asyncio.shield(session.dialled)

    def session(self, session_id: str) -> CallSession | None:
        return self._sessions.get(session_id)

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

    # ------------------------------------------------------------------ HTTP: status callbacks, upgrade checks
    def _reject(
        self, connection: ServerConnection, status: HTTPStatus, kind: str, session_id: str
    ) -> Response:
        self.rejected[kind] += 1
        log.warning("[session=%s] rejected request: %s", session_id[:64], kind)
        return connection.respond(status, f"{status.phrase}\n")

    def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | Awaitable[Response | None] | None:
        path, _, query = request.path.partition("?")
        parts = [p for p in path.split("/") if p]
        if path == "/healthz":
            return connection.respond(HTTPStatus.OK, "ok\n")
        if path.rstrip("/").endswith(VOICE_PATH) and len(parts) >= 1 and parts[-1] == VOICE_PATH.strip("/"):
            return self._voice(connection, request, query)
        if len(parts) < 2 or parts[-2] not in ("status", "media"):
            return self._reject(connection, HTTPStatus.NOT_FOUND, "unknown_path", "-")
        kind, session_id = parts[-2], parts[-1]
        signature = request.headers.get("x-twilio-signature")
        if kind == "status":
            url = twiml.status_url(self.public_url, session_id) + ("?" + query if query else "")
            if not self.signatures.valid(url, signature):
                return self._reject(connection, HTTPStatus.FORBIDDEN, "forged_signature", session_id)
            session = self._sessions.get(session_id)
            if session is None:
                if session_id in self._finished:
                    return connection.respond(HTTPStatus.NO_CONTENT, "")  # e.g. the final "completed"
                return self._reject(connection, HTTPStatus.NOT_FOUND, "status_unknown_session", session_id)
            fields = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
            try:
                sequence = int(fields.get("SequenceNumber", "0") or 0)
            except ValueError:
                sequence = 0
            session.on_status(
                StatusCallback(
                    call_status=fields.get("CallStatus", ""),
                    sequence=sequence,
                    answered_by=fields.get("AnsweredBy") or None,
                )
            )
            return connection.respond(HTTPStatus.NO_CONTENT, "")
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return self._reject(connection, HTTPStatus.BAD_REQUEST, "media_not_websocket", session_id)
        if not self.signatures.valid(twiml.media_url(self.public_url, session_id), signature):
            return self._reject(connection, HTTPStatus.FORBIDDEN, "forged_signature", session_id)
        session = self._sessions.get(session_id)
        if session is None or not session.accepts_stream():
            return self._reject(connection, HTTPStatus.NOT_FOUND, "stream_unknown_session", session_id)
        return None

    async def _voice(self, connection: ServerConnection, request: Request, query: str) -> Response:
        """Mounted at ``/voice`` (GET, every field in the signed URL) until the listener reads POSTs."""
        url = twiml.http_base(self.public_url).rstrip("/") + VOICE_PATH + ("?" + query if query else "")
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        status, body = await voice_webhook(
            self, url=url, params=params, signature=request.headers.get("x-twilio-signature")
        )
        response = connection.respond(status, body)
        if status is HTTPStatus.OK:
            response.headers["Content-Type"] = TWIML_CONTENT_TYPE
        return response

    # ------------------------------------------------------------------ WebSocket: media streams
    async def _handler(self, ws: ServerConnection) -> None:
        session_id = [p for p in ws.request.path.partition("?")[0].split("/") if p][-1] if ws.request else ""
        start: media.Start | None = None
        try:
            async with asyncio.timeout(STREAM_START_TIMEOUT):
                while start is None:
                    event = media.decode(await ws.recv())
                    if isinstance(event, media.Start):
                        start = event
                    elif not isinstance(event, media.Connected):
                        raise media.MediaDecodeError("before_start", type(event).__name__)
        except (TimeoutError, media.MediaDecodeError, websockets.exceptions.ConnectionClosed) as exc:
            kind = exc.kind if isinstance(exc, media.MediaDecodeError) else type(exc).__name__
            self.rejected[f"stream_{kind}"] += 1
            log.warning("[session=%s] stream closed before a valid start (%s)", session_id, kind)
            await ws.close(1008, "bad stream start")
            return
        if not self._tokens.verify(session_id, start.start.customParameters.get("token")):
            self.rejected["forged_token"] += 1
            log.warning("[session=%s] stream with an invalid token refused", session_id)
            await ws.close(1008, "forbidden")
            return
        session = self._sessions.get(session_id)
        if session is None or not session.accepts_stream():
            self.rejected["stream_finished_session"] += 1
            log.warning("[session=%s] stream for a finished session refused", session_id)
            await ws.close(1008, "no such call")
            return
        await session.serve_stream(ws, start)
