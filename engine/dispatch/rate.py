"""Calls-per-second limits: a token bucket per Twilio account, slowed when Twilio says 429.

Twilio counts calls per second per account; a 429 (error 20429) means we, or something else
on the same account, went over. The host that got it backs off on its own REST client, and
its next heartbeat tells the Dispatcher, whose bucket for the account then
(:meth:`TokenBucket.slow_down`) releases nothing for the ``Retry-After`` (or backoff) the
host saw, halves its rate (not below a tenth of the configured one) and recovers linearly to
the configured rate over ``recover_seconds`` without another 429 (additive increase,
multiplicative decrease).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    """Classic token bucket on a caller-supplied monotonic time.

    ``rate`` tokens per second, at most ``burst`` stored. A full bucket lets
    ``burst`` calls through at once; after that calls leave at ``rate``/s.
    The bucket starts full only if ``start_full`` (Twilio counts a burst
    against the account's CPS, so the default is to start empty-ish: one token).
    """

    rate: float
    burst: float = 1.0
    tokens: float = 1.0
    last: float | None = None
    recover_seconds: float = 60.0
    """After a slow-down, time to climb back from the halved rate to the configured one."""
    min_fraction: float = 0.1
    """A slow-down never takes the rate below this share of the configured rate."""
    nominal: float = 0.0
    """The configured rate (``rate`` at construction)."""
    hold_until: float = float("-inf")
    """Nothing is released before this time (a 429's ``Retry-After``)."""

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError("rate must be > 0")
        if self.burst < 1:
            raise ValueError("burst must be >= 1")
        self.tokens = min(self.tokens, self.burst)
        self.nominal = self.nominal or self.rate

    def _refill(self, now: float) -> None:
        if self.last is None:
            self.last = now
            return
        if now <= self.last:
            return  # time did not move (or went backwards): nothing to add
        start = max(self.last, self.hold_until)  # nothing accrues while held
        if now > start:
            self.tokens = min(self.burst, self.tokens + (now - start) * self.rate)
            if self.rate < self.nominal:
                self.rate = min(self.nominal, self.rate + (now - start) * self.nominal / self.recover_seconds)
        self.last = now

    def try_acquire(self, now: float, n: float = 1.0) -> bool:
        """Take ``n`` tokens if available at ``now``."""
        self._refill(now)
        if now < self.hold_until:
            return False
        if self.tokens + 1e-9 >= n:
            self.tokens -= n
            return True
        return False

    def available(self, now: float) -> int:
        """Whole tokens available at ``now`` (without taking them)."""
        self._refill(now)
        if now < self.hold_until:
            return 0
        return int(self.tokens + 1e-9)

    def releasable(self, now: float, until: float) -> int:
        """Tokens the bucket can release from ``now`` until ``until`` (a claim's upper bound)."""
        self._refill(now)
        accrues = max(0.0, until - max(now, self.hold_until)) * self.rate
        return int(max(0.0, self.tokens) + accrues + 1e-9)

    def wait_time(self, now: float, n: float = 1.0) -> float:
        """Seconds until ``n`` tokens are available."""
        self._refill(now)
        held = max(0.0, self.hold_until - now)
        missing = n - self.tokens
        if missing <= 1e-9:
            return held
        # At least 1 ms: a float-dust wait would not move a clock forward.
        return max(held + missing / self.rate, 1e-3)

    def slow_down(self, now: float, hold_s: float) -> None:
        """Twilio said 429: release nothing for ``hold_s``, then at half the rate, recovering."""
        self._refill(now)
        self.tokens = min(self.tokens, 0.0)
        self.rate = max(self.nominal * self.min_fraction, self.rate / 2)
        self.hold_until = max(self.hold_until, now + max(0.0, hold_s))


@dataclass
class AccountRateLimiter:
    """One :class:`TokenBucket` per Twilio account sid, created on first use."""

    rate: float
    burst: float = 1.0
    _buckets: dict[str, TokenBucket] = field(default_factory=dict)

    def bucket(self, account: str) -> TokenBucket:
        b = self._buckets.get(account)
        if b is None:
            b = self._buckets[account] = TokenBucket(self.rate, self.burst, tokens=self.burst)
        return b

    def try_acquire(self, account: str, now: float) -> bool:
        return self.bucket(account).try_acquire(now)

    def available(self, account: str, now: float) -> int:
        return self.bucket(account).available(now)

    def releasable(self, account: str, now: float, until: float) -> int:
        return self.bucket(account).releasable(now, until)

    def wait_time(self, account: str, now: float) -> float:
        return self.bucket(account).wait_time(now)

    def slow_down(self, account: str, now: float, hold_s: float) -> None:
        self.bucket(account).slow_down(now, hold_s)

    def current_rate(self, account: str) -> float:
        return self.bucket(account).rate
