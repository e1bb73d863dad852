"""Retry policy: backoff (10 min, 1 h, 4 h by default), at most 3 retries, inside call windows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from engine.dispatch.windows import CallWindows
from engine.domain import MAX_RETRIES, FailureReason


@dataclass(frozen=True)
class RetryDecision:
    """Either retry at ``next_attempt_at`` or give up with ``give_up_reason``."""

    next_attempt_at: datetime | None
    give_up_reason: FailureReason | None = None

    @property
    def retry(self) -> bool:
        return self.next_attempt_at is not None


@dataclass(frozen=True)
class RetryPolicy:
    backoff_seconds: Sequence[float] = (600.0, 3600.0, 14400.0)
    max_retries: int = MAX_RETRIES

    def delay(self, retries_done: int) -> float:
        """Backoff before retry number ``retries_done + 1``; the last delay repeats."""
        seq = tuple(self.backoff_seconds)
        return seq[min(retries_done, len(seq) - 1)]

    def decide(
        self,
        *,
        reason: FailureReason,
        retries_done: int,
        failed_at: datetime,
        windows: CallWindows | None,
    ) -> RetryDecision:
        """What to do after an attempt failed with ``reason``.

        ``retries_done`` is the session's retry_count before this decision.
        The retry lands at ``failed_at + backoff``, moved forward to the next
        opening of the store's call window when that falls outside it.
        """
        if not reason.retryable:
            return RetryDecision(None, reason)
        if retries_done >= self.max_retries:
            return RetryDecision(None, FailureReason.MAX_RETRIES)
        due = failed_at + timedelta(seconds=self.delay(retries_done))
        if windows is not None:
            opened = windows.next_open(due)
            if opened is None:
                return RetryDecision(None, FailureReason.MAX_RETRIES)
            due = opened
        return RetryDecision(due)
