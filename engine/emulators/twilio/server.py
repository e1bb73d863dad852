"""The Twilio emulator: Calls REST API + call progression + status callbacks + Media Streams.

Point the real ``twilio`` SDK at ``emulator.base_url`` (with ``TWILIO_EDGE``/``TWILIO_REGION``
unset: the SDK's host rewriting would mangle the IP address)::

    async with TwilioEmulator(TwilioEmulatorOptions(speed=10)) as twilio:
        client = Client(twilio.account_sid, twilio.auth_token)
        client.api.base_url = twilio.base_url
        call = client.calls.create(to=..., from_=..., twiml=...)
        record = await twilio.call(call.sid).wait_ended(timeout=30)
"""

from __future__ import annotations

import asyncio
import base64
import collections
import datetime as dt
import logging
import secrets
import ssl
import time
from collections.abc import Awaitable, Callable
from types import TracebackType

import aiohttp
from aiohttp import web

from engine.emulators.scenarios import ScenarioSet, default_scenarios
from engine.emulators.twilio.calllog import CallRecord
from engine.emulators.twilio.options import TwilioEmulatorOptions, TwilioFaults
from engine.emulators.twilio.progress import CallParams, CallRunner, RunnerContext
from engine.emulators.twilio.rest import API_VERSION, TwilioApiError, call_json, parse_create, parse_update
from engine.emulators.twilio.twiml import Verb, parse_twiml
from engine.errors import ValidationError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_STOP_TIMEOUT_S = 5.0


def _trust(ca_file: str | None) -> ssl.SSLContext | None:
    """The system's authorities plus ``ca_file``'s; None (aiohttp's and websockets' default) without one."""
    if not ca_file:
        return None
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=ca_file)
    return context


class TwilioEmulator:
    """Offline Twilio: one aiohttp server on 127.0.0.1; every call runs as an owned task."""

    def __init__(self, options: TwilioEmulatorOptions | None = None) -> None:
        self.options = options or TwilioEmulatorOptions()
        self.scenarios: ScenarioSet = self.options.scenarios or default_scenarios()
        self.calls: list[CallRecord] = []
        """The call log, in creation order."""
        self._by_sid: dict[str, CallRunner] = {}
        self._attempts: collections.Counter[str] = collections.Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._recent_creates: collections.deque[float] = collections.deque()
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._tls: ssl.SSLContext | None = None
        self._port = 0
        self._new_call = asyncio.Condition()

    # -- lifecycle --------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        base = f"/{API_VERSION}/Accounts/{{account}}"
        app.router.add_post(f"{base}/Calls.json", self._create)
        app.router.add_get(f"{base}/Calls.json", self._list)
        app.router.add_get(f"{base}/Calls/{{sid}}.json", self._fetch)
        app.router.add_post(f"{base}/Calls/{{sid}}.json", self._update)
        app.router.add_delete(f"{base}/Calls/{{sid}}.json", self._delete)
        app.router.add_get("/", self._health)
        self._tls = _trust(self.options.ca_file)
        self._http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=15),
            connector=aiohttp.TCPConnector(ssl=self._tls if self._tls is not None else True),
        )
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.options.host, self.options.port)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self._port = sockets[0].getsockname()[1]
        log.info(
            "twilio emulator listening on %s:%d (speed %.1f)",
            self.options.host,
            self._port,
            self.options.speed,
        )

    async def stop(self) -> None:
        """Stop taking requests, end every call (completed/canceled), close sockets. Idempotent."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=_STOP_TIMEOUT_S)
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def __aenter__(self) -> TwilioEmulator:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- what clients and tests use ---------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        """What ``client.api.base_url`` (or ``TWILIO_API_BASE_URL``) is set to."""
        return f"http://{self.options.host}:{self._port}"

    @property
    def account_sid(self) -> str:
        return self.options.account_sid

    @property
    def auth_token(self) -> str:
        return self.options.auth_token

    @property
    def faults(self) -> TwilioFaults:
        return self.options.faults

    def env(self) -> dict[str, str]:
        """The settings a client needs, under the variable names the engine reads."""
        return {
            "TWILIO_API_BASE_URL": self.base_url,
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
        }

    def _runner_context(self) -> RunnerContext:
        """What every call's runner needs, the same for dialled and inbound calls (the CA the
        media stream's ``wss://`` URL is checked against included)."""
        assert self._http is not None, "started"
        return RunnerContext(
            account_sid=self.account_sid,
            auth_token=self.auth_token,
            speed=self.options.speed,
            faults=self.options.faults,
            scenarios=self.scenarios,
            http=self._http,
            stream_open_timeout_s=self.options.stream_open_timeout_s,
            record_pacing=self.options.record_pacing,
            sip_gateway_url=lambda: self.options.sip_gateway_url,
            tls=self._tls,
        )

    def call(self, sid: str) -> CallRecord:
        """The call log entry of ``sid`` (KeyError if unknown)."""
        return self._by_sid[sid].record

    def calls_to(self, phone: str) -> list[CallRecord]:
        return [c for c in self.calls if c.to == phone]

    async def place_inbound_call(
        self, *, from_: str, to: str, voice_url: str, method: str = "POST"
    ) -> CallRecord:
        """The customer ``from_`` rings our number ``to`` (its voice URL configured as ``voice_url``).

        The call runs as Twilio runs one: the voice URL is fetched (signed, ``Direction=inbound``) and
        its TwiML played to the scenario's customer for ``from_`` (``<Say>``, ``<Gather>`` answered with
        the scenario's ``call_back_dtmf``, ``<Connect><Stream>`` to the app).
        """
        scenario = self.scenarios.for_phone(from_)
        record = CallRecord(
            sid="CA" + secrets.token_hex(16),
            to=to,
            from_=from_,
            created_at=dt.datetime.now(dt.UTC),
            scenario=scenario.name if scenario else None,
            attempt=0,
            direction="inbound",
        )
        record.add_status("queued")
        params = CallParams(to=to, from_=from_, url=voice_url, method=method.upper(), inbound=True)
        ctx = self._runner_context()
        runner = CallRunner(record, params, scenario, ctx)
        self._by_sid[record.sid] = runner
        self.calls.append(record)
        task = asyncio.create_task(runner.run(), name=f"twilio-inbound-{record.sid}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        async with self._new_call:
            self._new_call.notify_all()
        return record

    async def wait_for_calls(self, count: int, timeout_s: float) -> list[CallRecord]:
        """Wait until at least ``count`` calls have been created."""
        async with self._new_call:
            await asyncio.wait_for(self._new_call.wait_for(lambda: len(self.calls) >= count), timeout_s)
        return list(self.calls)

    async def wait_idle(self, timeout_s: float) -> None:
        """Wait until every call so far has ended."""
        await asyncio.wait_for(asyncio.gather(*(c.ended.wait() for c in self.calls)), timeout_s)

    # -- HTTP -------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        faults = self.options.faults
        try:
            if faults.rest_latency_ms:
                await asyncio.sleep(faults.rest_latency_ms / 1000)
            if request.path == "/":
                return await handler(request)
            if faults.rest_5xx_burst > 0:
                faults.rest_5xx_burst -= 1
                raise TwilioApiError(503, 20503, "Service Unavailable (emulated fault)")
            self._authenticate(request)
            return await handler(request)
        except TwilioApiError as exc:
            return web.json_response(exc.body(), status=exc.status)
        except web.HTTPException as exc:
            if exc.status == 404:
                err = TwilioApiError(404, 20404, f"The requested resource {request.path} was not found")
                return web.json_response(err.body(), status=404)
            if exc.status == 405:
                err = TwilioApiError(405, 20004, "Method not allowed")
                return web.json_response(err.body(), status=405)
            raise

    def _authenticate(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        ok = False
        if header.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                user = password = ""
            expected = self.auth_token if user == self.account_sid else self.options.api_keys.get(user)
            ok = expected is not None and secrets.compare_digest(password.encode(), expected.encode())
        if not ok:
            raise TwilioApiError(401, 20003, "Authentication Error - invalid username")
        account = request.match_info.get("account")
        if account is not None and account != self.account_sid:
            raise TwilioApiError(404, 20404, f"The requested resource {request.path} was not found")

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="twilio emulator\n")

    def _check_rate(self) -> None:
        limit = self.options.calls_per_second
        if limit is None:
            return
        now = time.monotonic()
        window = self._recent_creates
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= limit:
            raise TwilioApiError(429, 20429, "Too Many Requests")
        window.append(now)

    async def _create(self, request: web.Request) -> web.Response:
        params = parse_create(await _form(request))
        faults = self.options.faults
        if faults.rest_429_burst > 0:
            faults.rest_429_burst -= 1
            err = TwilioApiError(429, 20429, "Too Many Requests (emulated fault)")
            return web.json_response(
                err.body(), status=429, headers={"Retry-After": str(max(0, faults.retry_after_s))}
            )
        if faults.rest_500_burst > 0:
            faults.rest_500_burst -= 1
            raise TwilioApiError(500, 20500, "Internal Server Error (emulated fault)")
        self._check_rate()
        scenario = self.scenarios.for_phone(params.to)
        attempt = self._attempts[params.to]
        self._attempts[params.to] += 1
        record = CallRecord(
            sid="CA" + secrets.token_hex(16),
            to=params.to,
            from_=params.from_,
            created_at=dt.datetime.now(dt.UTC),
            scenario=scenario.name if scenario else None,
            attempt=attempt,
        )
        record.add_status("queued")
        ctx = self._runner_context()
        runner = CallRunner(record, params, scenario, ctx)
        self._by_sid[record.sid] = runner
        self.calls.append(record)
        task = asyncio.create_task(runner.run(), name=f"twilio-call-{record.sid}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        async with self._new_call:
            self._new_call.notify_all()
        log.info("call %s created (scenario %s, attempt %d)", record.sid, record.scenario or "-", attempt)
        if faults.late_create_ms > 0 and faults.late_creates >= 0:
            # Placed (ringing already), but the reply comes late: the client may time out.
            if faults.late_creates > 0:
                faults.late_creates -= 1
                if faults.late_creates == 0:
                    faults.late_creates = -1  # burst used up
            await asyncio.sleep(faults.late_create_ms / 1000)
        return web.json_response(call_json(record, self.account_sid), status=201)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("call task %s failed", task.get_name(), exc_info=task.exception())

    def _runner_for(self, request: web.Request) -> CallRunner:
        runner = self._by_sid.get(request.match_info["sid"])
        if runner is None or runner.deleted:
            raise TwilioApiError(404, 20404, f"The requested resource {request.path} was not found")
        return runner

    async def _fetch(self, request: web.Request) -> web.Response:
        runner = self._runner_for(request)
        return web.json_response(call_json(runner.record, self.account_sid))

    async def _update(self, request: web.Request) -> web.Response:
        runner = self._runner_for(request)
        status, verbs, url = parse_update(await _form(request))
        if verbs is not None or url:
            if runner.record.status != "in-progress":
                raise TwilioApiError(400, 21220, "Call is not in-progress. Cannot redirect.")
            if verbs is None:
                assert url is not None
                verbs = await self._fetch_redirect(runner, url)
            runner.redirect(verbs)
        if status is not None:
            runner.hang_up(status)
        return web.json_response(call_json(runner.record, self.account_sid))

    async def _fetch_redirect(self, runner: CallRunner, url: str) -> tuple[Verb, ...]:
        status, body = await runner.webhook(url, runner.base_params("in-progress"), "POST")
        if status is None or not 200 <= status < 300:
            raise TwilioApiError(400, 11200, "HTTP retrieval failure for the redirect Url")
        try:
            return tuple(parse_twiml(body, field="Url response"))
        except ValidationError as exc:
            raise TwilioApiError(400, 12100, f"Document parse failure: {exc.description}") from exc

    async def _delete(self, request: web.Request) -> web.Response:
        runner = self._runner_for(request)
        if runner.record.status in ("queued", "ringing", "in-progress"):
            raise TwilioApiError(400, 20009, "Cannot delete a call that is still in progress")
        runner.deleted = True
        return web.Response(status=204)

    async def _list(self, request: web.Request) -> web.Response:
        to = request.query.get("To")
        status = request.query.get("Status")
        rows = [
            call_json(r, self.account_sid)
            for r in reversed(self.calls)
            if (to is None or r.to == to) and (status is None or r.status == status)
        ]
        try:
            page_size = max(1, min(1000, int(request.query.get("PageSize", "50"))))
        except ValueError:
            raise TwilioApiError(400, 20001, "PageSize must be an integer") from None
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls.json"
        rows = rows[:page_size]
        return web.json_response(
            {
                "calls": rows,
                "page": 0,
                "page_size": page_size,
                "start": 0,
                "end": max(0, len(rows) - 1),
                "uri": f"{uri}?PageSize={page_size}&Page=0",
                "first_page_uri": f"{uri}?PageSize={page_size}&Page=0",
                "next_page_uri": None,
                "previous_page_uri": None,
            }
        )


async def _form(request: web.Request) -> dict[str, list[str]]:
    """The urlencoded body as key → all values; a file upload or bad encoding is a 400."""
    try:
        data = await request.post()
    except ValueError as exc:
        raise TwilioApiError(400, 20001, f"request body: {exc}") from exc
    form: dict[str, list[str]] = {}
    for key, value in data.items():
        if not isinstance(value, str):
            raise TwilioApiError(400, 20001, f"{key}: expected a text value")
        form.setdefault(key, []).append(value)
    return form
