"""Twilio Calls REST, asynchronously, with SDK errors translated at this edge.

The session talks to :class:`TwilioCalls` (a small Protocol) so tests and the
benchmark can swap the transport; :class:`TwilioRestCalls` is the real one on
the SDK's aiohttp-based ``AsyncTwilioHttpClient`` (never blocks the loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from engine.config import TwilioSettings, twilio_location
from engine.errors import CallEngineError, ResourceExhaustedError, UnavailableError

STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]


class DialRejectedError(CallEngineError):
    """Twilio refused the call (invalid number, auth, account limits). ``code`` is Twilio's."""

    def __init__(self, message: str, *, code: int | None, retryable: bool = False) -> None:
        super().__init__(message, retryable=retryable)
        self.code = code


class TwilioCalls(Protocol):
    async def create_call(
        self,
        *,
        to: str,
        twiml: str,
        status_callback: str,
        timeout_s: int,
        time_limit_s: int,
    ) -> str:
        """Place the call; return its CallSid. Raises DialRejectedError / UnavailableError."""
        ...

    async def end_call(self, call_sid: str, *, answered: bool, say: str | None = None) -> None:
        """Hang up (answered) or cancel (still ringing); with ``say``, speak it (Swedish TTS) first.

        Idempotent on finished calls."""
        ...

    async def aclose(self) -> None: ...


TwilioCallsFactory = Callable[[TwilioSettings], TwilioCalls]


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

    def __init__(self, settings: TwilioSettings, *, request_timeout_s: float = 10.0) -> None:
        self._settings = settings
        self._http = AsyncTwilioHttpClient()
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

    async def create_call(
        self, *, to: str, twiml: str, status_callback: str, timeout_s: int, time_limit_s: int
    ) -> str:
        try:
            async with asyncio.timeout(self._timeout):
                call = await self._client.calls.create_async(
                    to=to,
                    from_=self._settings.from_number,
                    twiml=twiml,
                    status_callback=status_callback,
                    status_callback_method="GET",
                    status_callback_event=STATUS_EVENTS,
                    machine_detection="Enable",
                    timeout=timeout_s,
                    time_limit=time_limit_s,
                )
        except (TwilioException, OSError, TimeoutError) as exc:
            raise _translate(exc, "create call") from exc
        except Exception as exc:  # aiohttp.ClientError and friends
            raise _translate(exc, "create call") from exc
        return str(call.sid)

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
