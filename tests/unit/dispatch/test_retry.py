from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.dispatch.retry import RetryPolicy
from engine.dispatch.windows import CallWindows
from engine.domain import FailureReason

P = RetryPolicy()
STHLM = CallWindows("Europe/Stockholm")
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # Wed 11:00 local


def test_backoff_sequence_inside_window() -> None:
    for done, delay in enumerate((600, 3600, 14400)):
        d = P.decide(reason=FailureReason.NO_ANSWER, retries_done=done, failed_at=T0, windows=STHLM)
        assert d.retry and d.next_attempt_at == T0 + timedelta(seconds=delay)


def test_at_most_three_retries() -> None:
    d = P.decide(reason=FailureReason.BUSY, retries_done=3, failed_at=T0, windows=STHLM)
    assert not d.retry and d.give_up_reason is FailureReason.MAX_RETRIES


def test_non_retryable_reasons_are_final() -> None:
    for reason in (FailureReason.OPTED_OUT, FailureReason.CANCELED, FailureReason.INTERNAL):
        d = P.decide(reason=reason, retries_done=0, failed_at=T0, windows=STHLM)
        assert not d.retry and d.give_up_reason is reason


def test_retry_moved_into_next_window() -> None:
    # Wed 18:30 local + 4 h = 22:30 → Thu 09:00 local (08:00 UTC).
    failed = datetime(2026, 11, 25, 17, 30, tzinfo=UTC)
    d = P.decide(reason=FailureReason.HOST_LOST, retries_done=2, failed_at=failed, windows=STHLM)
    assert d.next_attempt_at == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    # Friday evening → Saturday 10:00 local.
    failed = datetime(2026, 11, 27, 18, 55, tzinfo=UTC)
    d = P.decide(reason=FailureReason.VOICEMAIL, retries_done=0, failed_at=failed, windows=STHLM)
    assert d.next_attempt_at == datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def test_without_windows_and_custom_backoff() -> None:
    p = RetryPolicy(backoff_seconds=(1.0,), max_retries=5)
    d = p.decide(reason=FailureReason.CALL_FAILED, retries_done=4, failed_at=T0, windows=None)
    assert d.next_attempt_at == T0 + timedelta(seconds=1)


def test_store_never_open_gives_up() -> None:
    closed = CallWindows.from_config("UTC", {"weekdays": None, "weekends": None})
    d = P.decide(reason=FailureReason.NO_ANSWER, retries_done=0, failed_at=T0, windows=closed)
    assert not d.retry


def test_a_store_that_never_opens_gives_up_as_max_retries() -> None:
    never = CallWindows.from_config("UTC", {"weekdays": None, "weekends": None})
    d = P.decide(reason=FailureReason.NO_ANSWER, retries_done=0, failed_at=T0, windows=never)
    assert d.next_attempt_at is None and not d.retry
    assert d.give_up_reason is FailureReason.MAX_RETRIES
