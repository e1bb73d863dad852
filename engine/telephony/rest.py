"""Twilio Calls REST, asynchronously, like a careful client; SDK errors translated at this edge.

The session talks to :class:`TwilioCalls` (a small Protocol) so tests and the
benchmark can swap the transport; :class:`TwilioRestCalls` is the real one on
the SDK's aiohttp-based ``AsyncTwilioHttpClient`` (never blocks the loop).

Creating a call is the one request that must never be repeated blindly:

- *definitely not placed* (429, 503, a connection that was never made): retried
  within the attempt, with exponential backoff and jitter, honouring
  ``Retry-After``; a 429 also slows every later create from this client, and is reported
  (:meth:`TwilioRestCalls.take_throttle`, through the host's heartbeat) so the Dispatcher
  slows the whole account's dialling;
- *maybe placed* (timeout after sending, a dropped connection, 500/502/504):
  the call is first identified by this attempt's own status callback (the
  caller's ``identify``, which waits up to the ring window) and adopted if
  found; only when nothing arrived is another create sent. Never a lookup by
  the number, which another store may be calling;
- *rejected* (other 4xx): :class:`DialRejectedError`, no retry.

When the tries run out the error is :class:`ProviderUnavailableError`: the
call was not placed and the session gives itself back to the queue.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from engine.config import TwilioSettings
from engine.config_checks import twilio_location
from engine.dispatch.breaker import TWILIO, ProviderUnavailableError
from engine.errors import CallEngineError, ResourceExhaustedError, UnavailableError

STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]


class DialRejectedError(CallEngineError):
    """Twilio refused the call (invalid number, auth, account limits). ``code`` is Twilio's."""

    def __init__(self, message: str, *, code: int | None, retryable: bool = False) -> None:
        super().__init__(message, retryable=retryable)
        self.code = code


Identify = Callable[[float], Awaitable[str | None]]
"""``await identify(wait_s)`` → the CallSid this attempt's status callbacks reported, or None
if none arrived within ``wait_s``."""


class TwilioCalls(Protocol):
    async def create_call(
        self,
        *,
        to: str,
        twiml: str,
        status_callback: str,
        timeout_s: int,
        time_limit_s: int,
        identify: Identify | None = None,
    ) -> str:
        """Place the call; return its CallSid. Raises DialRejectedError (refused),
        ProviderUnavailableError (not placed, Twilio failing) or UnavailableError (maybe placed,
        could not be identified: only without ``identify``)."""
        ...

    async def end_call(self, call_sid: str, *, answered: bool, say: str | None = None) -> None:
        """Hang up (answered) or cancel (still ringing); with ``say``, speak it (Swedish TTS) first.

        Idempotent on finished calls."""
        ...

    async def aclose(self) -> None: ...


TwilioCallsFactory = Callable[[TwilioSettings], TwilioCalls]


_RETRY_AFTER: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "twilio_retry_after", default=None
)


class _HeaderAwareHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """Remembers the last reply's ``Retry-After`` (per task: a context variable).

    Also sends the SDK's basic-auth pair as an ``Authorization`` header itself: aiohttp
    deprecates the ``auth`` argument the SDK would hand it (removed in aiohttp 4)."""

    async def request(self, *args: Any, **kwargs: Any) -> Any:
        _RETRY_AFTER.set(None)
        auth = kwargs.pop("auth", None)
        if auth is not None:
            pair = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            kwargs["headers"] = {**(kwargs.get("headers") or {}), "Authorization": f"Basic {pair}"}
        response = await super().request(*args, **kwargs)
        headers = getattr(response, "headers", None) or {}
        value = headers.get("Retry-After") if hasattr(headers, "get") else None
        if value is not None:
            try:
                _RETRY_AFTER.set(max(0.0, min(float(value), 60.0)))
            except ValueError:
                pass
        return response


def _translate(exc: Exception, what: str) -> CallEngineError:
    if isinstance(exc, TwilioRestException):
        status = int(exc.status or 0)
        code = int(exc.code) if exc.code else None
        if status == 429 or code == 20429:
            return ResourceExhaustedError(f"twilio {what}: rate limited (code {code})")
        if status >= 500:
            return UnavailableError(f"twilio {what}: HTTP {status} (code {code})")
        return DialRejectedError(f"twilio {what}: HTTP {status} (code {code})", code=code)
    return UnavailableError(f"twilio {what}: {type(exc).__name__}")


class TwilioRestCalls:
    """The Calls API through twilio-python's async client (one aiohttp session per host)."""

    def __init__(
        self,
        settings: TwilioSettings,
        *,
        request_timeout_s: float = 10.0,
        create_tries: int = 4,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._http = _HeaderAwareHttpClient()
        edge, region = twilio_location(settings)
        if settings.api_key_sid:
            username, password = settings.api_key_sid, settings.api_key_secret.get()
        else:
            username, password = settings.account_sid, settings.auth_token.get()
        self._client = Client(
            username,
            password,
            account_sid=settings.account_sid,
            http_client=self._http,
            edge=edge,
            region=region,
        )
        # The settings decide, never TWILIO_EDGE/TWILIO_REGION read by the SDK from os.environ:
        # its host rewriting splits the host on dots and would turn an emulator's 127.0.0.1 into
        # 127.dublin.0.0.1 (so twilio_location gives none with TWILIO_API_BASE_URL).
        self._client.edge = edge
        self._client.region = region
        if settings.api_base_url:
            self._client.api.base_url = settings.api_base_url.rstrip("/")
        self._timeout = request_timeout_s
        self._tries = max(1, create_tries)
        self._backoff = backoff_s
        self._max_backoff = max_backoff_s
        self._rng = rng or random.Random()
        self._slow_until = 0.0
        """After a 429: no create from this client before this (monotonic) time."""
        self._throttled_s = 0.0
        """The longest wait a 429 asked for since :meth:`take_throttle` last read it."""
        self.retries = 0
        self.ambiguous = 0

    def _delay(self, n: int, retry_after: float | None) -> float:
        base = min(self._backoff * 2**n, self._max_backoff)
        return max(base * self._rng.uniform(0.5, 1.5), retry_after or 0.0)

    async def create_call(
        self,
        *,
        to: str,
        twiml: str,
        status_callback: str,
        timeout_s: int,
        time_limit_s: int,
        identify: Identify | None = None,
    ) -> str:
        last = "no try"
        for n in range(self._tries):
            wait = self._slow_until - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                async with asyncio.timeout(self._timeout):
                    call = await self._client.calls.create_async(
                        to=to,
                        from_=self._settings.from_number,
                        twiml=twiml,
                        status_callback=status_callback,
                        # POST: the form body carries To/From, so no number sits in a URL.
                        status_callback_method="POST",
                        status_callback_event=STATUS_EVENTS,
                        machine_detection="Enable",
                        timeout=timeout_s,
                        time_limit=time_limit_s,
                    )
                return str(call.sid)
            except TwilioRestException as exc:
                status, code = int(exc.status or 0), exc.code
                if status in (429, 503) or code == 20429:
                    # Refused before any work was done: safe to send again, after a while.
                    delay = self._delay(n, _RETRY_AFTER.get())
                    if status == 429 or code == 20429:
                        self._slow_until = max(self._slow_until, time.monotonic() + delay)
                        self._throttled_s = max(self._throttled_s, delay)
                    last = f"HTTP {status} (code {code})"
                    self.retries += 1
                    await asyncio.sleep(delay)
                    continue
                if status < 500:
                    raise _translate(exc, "create call") from exc
                last = f"HTTP {status} (code {code})"  # 500/502/504: maybe placed
            except aiohttp.ClientConnectorError as exc:
                # The connection was never made, so nothing was sent: safe to send again.
                last = type(exc).__name__
                self.retries += 1
                await asyncio.sleep(self._delay(n, None))
                continue
            except Exception as exc:  # sent, no (complete) answer: maybe placed
                last = type(exc).__name__
            self.ambiguous += 1
            if identify is None:
                raise UnavailableError(f"twilio create call: {last}; the call may have been placed")
            sid = await identify(float(timeout_s) + 15.0)
            if sid is not None:
                return sid  # it was placed: adopt it, never place a second
            self.retries += 1
        raise ProviderUnavailableError(TWILIO, f"create call failed {self._tries} times (last: {last})")

    def take_throttle(self) -> float:
        """The longest 429 wait since the last call (0: none), for the Dispatcher's own limiter."""
        throttled, self._throttled_s = self._throttled_s, 0.0
        return throttled

    async def end_call(self, call_sid: str, *, answered: bool, say: str | None = None) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                if say and answered:
                    await self._client.calls(call_sid).update_async(twiml=say_and_hang_up(say))
                else:
                    status = "completed" if answered else "canceled"
                    await self._client.calls(call_sid).update_async(status=status)
        except TwilioRestException as exc:
            if exc.status in (400, 404):  # already over (e.g. 21220: call not in-progress)
                return
            raise _translate(exc, "end call") from exc
        except Exception as exc:
            raise _translate(exc, "end call") from exc

    async def aclose(self) -> None:
        await self._http.close()


def say_and_hang_up(text: str) -> str:
    response = VoiceResponse()
    response.say(text, language="sv-SE")
    response.hangup()
    return str(response)


def rest_calls_factory(settings: TwilioSettings) -> TwilioCalls:
    return TwilioRestCalls(settings)


class CarrierCallEnder:
    """:class:`engine.dispatch.ports.CallEnder` for the Dispatcher: end a lost host's calls by SID."""

    def __init__(self, settings: TwilioSettings) -> None:
        self._settings = settings
        self._calls: TwilioRestCalls | None = None

    async def end_call_by_sid(self, call_sid: str) -> None:
        if not self._settings.account_sid:
            return  # no Twilio account configured (simulated hosts): nothing to end
        if self._calls is None:
            self._calls = TwilioRestCalls(self._settings)
        # Cancel first (a ringing call); an answered call refuses that, so complete it.
        try:
            await self._calls.end_call(call_sid, answered=False)
        except CallEngineError:
            pass
        await self._calls.end_call(call_sid, answered=True)

    async def aclose(self) -> None:
        if self._calls is not None:
            await self._calls.aclose()
