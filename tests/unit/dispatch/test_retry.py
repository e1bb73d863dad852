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


def test_a_call_back_lands_at_the_customers_time_within_bounds() -> None:
    cb = FailureReason.CALLBACK_REQUESTED

    def at(requested: datetime, done: int = 0) -> datetime | None:
        return P.decide(
            reason=cb, retries_done=done, failed_at=T0, windows=STHLM, requested_at=requested
        ).next_attempt_at

    assert at(T0 + timedelta(hours=2)) == T0 + timedelta(hours=2), "not the 10-minute backoff"
    assert at(T0 + timedelta(seconds=30)) == T0 + timedelta(seconds=300), "never at once"
    assert at(T0 - timedelta(hours=1)) == T0 + timedelta(seconds=300), "a time in the past"
    far = at(T0 + timedelta(days=40))
    assert far is not None and far <= T0 + timedelta(days=7), "never beyond a week"
    # "Ring i kväll klockan tio": 22:00 local is outside the window → the next morning's opening.
    assert at(datetime(2026, 11, 25, 21, 0, tzinfo=UTC)) == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    # Out of retries: the cap holds for call-backs too.
    d = P.decide(reason=cb, retries_done=3, failed_at=T0, windows=STHLM, requested_at=T0 + timedelta(hours=1))
    assert not d.retry and d.give_up_reason is FailureReason.MAX_RETRIES
    # No time named: the normal backoff.
    d = P.decide(reason=cb, retries_done=1, failed_at=T0, windows=STHLM)
    assert d.next_attempt_at == T0 + timedelta(seconds=3600)


def test_a_requested_time_is_only_for_call_backs() -> None:
    d = P.decide(
        reason=FailureReason.NO_ANSWER,
        retries_done=0,
        failed_at=T0,
        windows=STHLM,
        requested_at=T0 + timedelta(days=1),
    )
    assert d.next_attempt_at == T0 + timedelta(seconds=600)


def test_a_store_that_never_opens_gives_up_as_max_retries() -> None:
    never = CallWindows.from_config("UTC", {"weekdays": None, "weekends": None})
    d = P.decide(reason=FailureReason.NO_ANSWER, retries_done=0, failed_at=T0, windows=never)
    assert d.next_attempt_at is None and not d.retry
    assert d.give_up_reason is FailureReason.MAX_RETRIES
