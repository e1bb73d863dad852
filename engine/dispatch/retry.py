"""Retry policy: backoff (10 min, 1 h, 4 h by default), at most 3 retries, inside call windows.

A customer who asked to be called back (``end_call(callback_requested)`` with a time) is
retried at the time they asked for rather than after the backoff, within sane bounds: never
sooner than ``callback_min_seconds`` (the model may say "in a minute"; a phone that rings again
at once is no call-back) and never later than ``callback_max_seconds``. The call window and
the retry cap apply as for any retry.
"""

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
    callback_min_seconds: float = 300.0
    """A requested call-back is never placed sooner than this after the call ended."""
    callback_max_seconds: float = 7 * 24 * 3600.0
    """Nor later than this (the tool allows at most a week; anything later is clamped)."""

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
        requested_at: datetime | None = None,
    ) -> RetryDecision:
        """What to do after an attempt failed with ``reason``.

        ``retries_done`` is the session's retry_count before this decision.
        The retry lands at ``failed_at + backoff`` — or, for a call-back the customer asked
        for (``requested_at``), at that time bounded to ``[failed_at + callback_min_seconds,
        failed_at + callback_max_seconds]`` — moved forward to the next opening of the
        store's call window when that falls outside it.
        """
        if not reason.retryable:
            return RetryDecision(None, reason)
        if retries_done >= self.max_retries:
            return RetryDecision(None, FailureReason.MAX_RETRIES)
        if reason is FailureReason.CALLBACK_REQUESTED and requested_at is not None:
            due = self.callback_time(failed_at, requested_at)
        else:
            due = failed_at + timedelta(seconds=self.delay(retries_done))
        if windows is not None:
            opened = windows.next_open(due)
            if opened is None:
                return RetryDecision(None, FailureReason.MAX_RETRIES)
            due = opened
        return RetryDecision(due)

    def callback_time(self, failed_at: datetime, requested_at: datetime) -> datetime:
        """The customer's requested time, kept within the policy's bounds."""
        earliest = failed_at + timedelta(seconds=self.callback_min_seconds)
        latest = failed_at + timedelta(seconds=max(self.callback_min_seconds, self.callback_max_seconds))
        return min(max(requested_at, earliest), latest)
