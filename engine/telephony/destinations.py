"""The host's last check before dialling: only allowed destination country codes are called.

DispatchCall already refuses a named number outside the allowed codes, but a session's
number comes from its verification, and the allowed codes may have narrowed since. The
host decrypts the number anyway, so it checks it right before Twilio is asked: a refused
number fails the session the way Twilio's own geo-permission refusal (code 21215) does.
"""

from __future__ import annotations

from engine.telephony.rest import DialRejectedError, Identify, TwilioCalls

GEO_PERMISSION_CODE = 21215
"""Twilio's "account not authorized to call this number" (geo permissions)."""


class DestinationGuard:
    """:class:`~engine.telephony.rest.TwilioCalls` that refuses numbers outside the allowed codes."""

    def __init__(self, inner: TwilioCalls, allowed_country_codes: tuple[str, ...]) -> None:
        self._inner = inner
        self._allowed = allowed_country_codes
        self.refused = 0
        """Dials refused here (no personal data; the counter is the signal)."""

    def allows(self, to: str) -> bool:
        return any(to.startswith(code) for code in self._allowed)

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
        if not self.allows(to):
            self.refused += 1
            raise DialRejectedError(
                "destination country code not allowed (CALLENGINE_ALLOWED_COUNTRY_CODES)",
                code=GEO_PERMISSION_CODE,
            )
        return await self._inner.create_call(
            to=to,
            twiml=twiml,
            status_callback=status_callback,
            timeout_s=timeout_s,
            time_limit_s=time_limit_s,
            identify=identify,
        )

    async def end_call(self, call_sid: str, *, answered: bool, say: str | None = None) -> None:
        await self._inner.end_call(call_sid, answered=answered, say=say)

    def take_throttle(self) -> float:
        take = getattr(self._inner, "take_throttle", None)
        return float(take()) if take is not None else 0.0

    async def aclose(self) -> None:
        await self._inner.aclose()
