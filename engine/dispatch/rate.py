"""Calls-per-second limits: a token bucket per Twilio account."""

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

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError("rate must be > 0")
        if self.burst < 1:
            raise ValueError("burst must be >= 1")
        self.tokens = min(self.tokens, self.burst)

    def _refill(self, now: float) -> None:
        if self.last is None:
            self.last = now
            return
        if now <= self.last:
            return  # time did not move (or went backwards): nothing to add
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now

    def try_acquire(self, now: float, n: float = 1.0) -> bool:
        """Take ``n`` tokens if available at ``now``."""
        self._refill(now)
        if self.tokens + 1e-9 >= n:
            self.tokens -= n
            return True
        return False

    def available(self, now: float) -> int:
        """Whole tokens available at ``now`` (without taking them)."""
        self._refill(now)
        return int(self.tokens + 1e-9)

    def wait_time(self, now: float, n: float = 1.0) -> float:
        """Seconds until ``n`` tokens are available."""
        self._refill(now)
        missing = n - self.tokens
        # At least 1 ms: a float-dust wait would not move a clock forward.
        return 0.0 if missing <= 1e-9 else max(missing / self.rate, 1e-3)


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

    def wait_time(self, account: str, now: float) -> float:
        return self.bucket(account).wait_time(now)
