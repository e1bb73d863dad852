"""Circuit breakers for the providers a dial depends on (the Realtime API, Twilio).

Pure and clock-driven, one per provider, owned by the Dispatcher (the one
place that decides to dial). ``failures`` consecutive provider failures open
the breaker: nothing is dialled. After ``open_seconds`` it is half-open: one
call is let through as a probe (its Realtime session is opened before the
phone rings, so a failing probe reaches no customer); success closes it, a
failure opens it again for twice as long (up to ``max_open_seconds``).

A path that has no probe-by-call (the SIP path, where the Realtime session
exists only after the customer answers) calls :func:`probe_gate` with its own
probe before dialling.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from engine.errors import UnavailableError

REALTIME = "realtime"
TWILIO = "twilio"
PROVIDERS = (REALTIME, TWILIO)


class BreakerState(enum.IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class ProviderUnavailableError(UnavailableError):
    """A provider failed before the customer's phone rang; the session was given back, not dialled."""

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.detail = message

    def __reduce__(self) -> tuple[type[ProviderUnavailableError], tuple[str, str]]:
        return (type(self), (self.provider, self.detail))  # crosses Ray intact


@dataclass
class CircuitBreaker:
    provider: str
    failures: int = 3
    open_seconds: float = 15.0
    max_open_seconds: float = 300.0
    state: BreakerState = BreakerState.CLOSED
    _consecutive: int = 0
    _opened_at: float = 0.0
    _open_for: float = field(default=0.0)
    _probing: bool = False

    probe_timeout: float = 60.0
    _probe_at: float = 0.0

    def can_pass(self, now: float) -> bool:
        """Would a call pass now? (No probe is taken; see :meth:`allow`.)"""
        if self.state is BreakerState.OPEN and now - self._opened_at >= self._open_for:
            self.state = BreakerState.HALF_OPEN
            self._probing = False
        if (
            self.state is BreakerState.HALF_OPEN
            and self._probing
            and now - self._probe_at > self.probe_timeout
        ):
            self._probing = False  # the probe never reported back: let another one try
        return self.state is BreakerState.CLOSED or (
            self.state is BreakerState.HALF_OPEN and not self._probing
        )

    def allow(self, now: float) -> bool:
        """May a call that depends on this provider start now? (Half-open: one probe at a time.)"""
        if not self.can_pass(now):
            return False
        if self.state is BreakerState.HALF_OPEN:
            self._probing = True
            self._probe_at = now
        return True

    def success(self) -> None:
        self.state = BreakerState.CLOSED
        self._consecutive = 0
        self._open_for = 0.0
        self._probing = False

    def failure(self, now: float) -> None:
        self._consecutive += 1
        if self.state is BreakerState.HALF_OPEN:
            self._open(now, min(max(self._open_for, self.open_seconds) * 2, self.max_open_seconds))
        elif self.state is BreakerState.CLOSED and self._consecutive >= self.failures:
            self._open(now, self.open_seconds)

    def _open(self, now: float, seconds: float) -> None:
        self.state = BreakerState.OPEN
        self._opened_at = now
        self._open_for = seconds
        self._probing = False

    def reason(self) -> str | None:
        """Why calls are held, for GetCall/stats; None while closed."""
        if self.state is BreakerState.CLOSED:
            return None
        return f"{self.provider}_unavailable"


@dataclass
class Breakers:
    realtime: CircuitBreaker = field(default_factory=lambda: CircuitBreaker(REALTIME))
    twilio: CircuitBreaker = field(default_factory=lambda: CircuitBreaker(TWILIO))

    def all(self) -> tuple[CircuitBreaker, ...]:
        return (self.realtime, self.twilio)

    def get(self, provider: str) -> CircuitBreaker:
        return self.twilio if provider == TWILIO else self.realtime

    def can_pass(self, now: float) -> bool:
        return all(b.can_pass(now) for b in self.all())

    def allow(self, now: float) -> bool:
        # A probe is taken only when every breaker lets the call through.
        if not all(b.can_pass(now) for b in self.all()):
            return False
        for b in self.all():
            b.allow(now)
        return True

    def success(self) -> None:
        for b in self.all():
            b.success()

    def held_reason(self) -> str | None:
        return next((r for b in self.all() if (r := b.reason()) is not None), None)


Probe = Callable[[], Awaitable[None]]


async def probe_gate(breaker: CircuitBreaker, probe: Probe, now: float) -> None:
    """For paths that cannot probe by placing a call (SIP): run ``probe`` when the breaker
    allows a call, record the result, and raise :class:`ProviderUnavailableError` if the
    provider is failing, so the caller gives the session back instead of dialling."""
    if not breaker.allow(now):
        raise ProviderUnavailableError(breaker.provider, "circuit open")
    try:
        await probe()
    except Exception as exc:
        breaker.failure(now)
        raise ProviderUnavailableError(breaker.provider, f"probe failed ({type(exc).__name__})") from exc
    breaker.success()
