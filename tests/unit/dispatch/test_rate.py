from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.dispatch.rate import AccountRateLimiter, TokenBucket


def test_bucket_paces_at_rate_on_a_virtual_clock() -> None:
    b = TokenBucket(rate=2.0, burst=1.0)
    t = 0.0
    granted = []
    while t < 10.0:
        if b.try_acquire(t):
            granted.append(t)
        t = round(t + 0.01, 2)
    # first at 0, then every 0.5 s
    assert len(granted) == 20
    gaps = [round(b - a, 2) for a, b in itertools.pairwise(granted)]
    assert all(g >= 0.5 for g in gaps)


def test_wait_time_and_burst() -> None:
    b = TokenBucket(rate=1.0, burst=3.0, tokens=3.0)
    assert b.available(0.0) == 3
    assert all(b.try_acquire(0.0) for _ in range(3))
    assert not b.try_acquire(0.0)
    assert b.wait_time(0.0) == pytest.approx(1.0)
    assert b.wait_time(0.25) == pytest.approx(0.75)
    assert b.try_acquire(1.0)


def test_clock_going_backwards_does_not_mint_tokens() -> None:
    b = TokenBucket(rate=1.0)
    assert b.try_acquire(10.0)
    assert not b.try_acquire(5.0)
    assert not b.try_acquire(10.5)


def test_invalid_parameters() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0)
    with pytest.raises(ValueError):
        TokenBucket(rate=1, burst=0.5)


def test_accounts_are_independent() -> None:
    lim = AccountRateLimiter(rate=1.0)
    assert lim.try_acquire("AC1", 0.0)
    assert not lim.try_acquire("AC1", 0.1)
    assert lim.try_acquire("AC2", 0.1)


@given(
    rate=st.floats(0.1, 50),
    burst=st.integers(1, 5),
    steps=st.lists(st.floats(0.0, 0.5), min_size=1, max_size=200),
)
def test_never_exceeds_rate_times_window_plus_burst(rate: float, burst: int, steps: list[float]) -> None:
    b = TokenBucket(rate=rate, burst=burst, tokens=burst)
    t = 0.0
    granted = 0
    for dt in steps:
        t += dt
        while b.try_acquire(t):
            granted += 1
    assert granted <= burst + rate * t + 1e-6


def test_a_429_holds_then_halves_the_rate_and_it_recovers() -> None:
    b = TokenBucket(rate=4.0, burst=1.0, recover_seconds=10.0)
    assert b.try_acquire(0.0)
    b.slow_down(0.1, hold_s=2.0)
    assert b.wait_time(0.1) == pytest.approx(2.0 + 0.5), "the hold, then one token at half the rate"
    assert b.rate == 2.0 and b.available(1.0) == 0 and not b.try_acquire(2.0)
    assert b.releasable(2.0, 2.1) == 0, "nothing within the hold"
    assert b.releasable(2.0, 3.1) == 2
    granted = [t / 100 for t in range(0, 400) if b.try_acquire(t / 100)]
    assert granted[0] >= 2.1 and all(b2 - a >= 0.3 for a, b2 in itertools.pairwise(granted))
    # Quiet for the recovery time: back at the configured rate, never above it.
    b.available(30.0)
    assert b.rate == 4.0
    for _ in range(10):
        b.slow_down(31.0, 0.0)
    assert b.rate == pytest.approx(0.4), "never below a tenth of the configured rate"


def test_parameter_errors_say_what_is_wrong() -> None:
    with pytest.raises(ValueError) as rate:
        TokenBucket(rate=-1)
    assert str(rate.value) == "rate must be > 0"
    with pytest.raises(ValueError) as burst:
        TokenBucket(rate=1, burst=0)
    assert str(burst.value) == "burst must be >= 1"


def test_wait_time_is_the_missing_fraction_over_the_rate() -> None:
    b = TokenBucket(rate=4.0, burst=1.0)
    assert b.wait_time(0.0) == 0.0  # a token is there: no wait
    assert b.try_acquire(0.0)
    assert b.wait_time(0.0) == pytest.approx(0.25)
    assert b.wait_time(0.125) == pytest.approx(0.125)  # half a token refilled
    assert b.wait_time(0.25) == 0.0
    slow = TokenBucket(rate=0.5, burst=2.0, tokens=0.0)
    assert slow.wait_time(0.0) == pytest.approx(2.0)
    assert slow.wait_time(0.0, n=2.0) == pytest.approx(4.0)
    # Float dust below a millisecond still waits a millisecond (a clock must move).
    dust = TokenBucket(rate=1000.0, burst=1.0, tokens=0.9999)
    assert dust.wait_time(0.0) == pytest.approx(1e-3)


def test_limiter_buckets_start_full_at_the_burst() -> None:
    lim = AccountRateLimiter(rate=1.0, burst=3.0)
    assert lim.available("AC1", 0.0) == 3
    assert [lim.try_acquire("AC1", 0.0) for _ in range(4)] == [True, True, True, False]
    assert lim.available("AC1", 0.0) == 0 and lim.available("AC2", 0.0) == 3
    assert lim.wait_time("AC1", 0.0) == pytest.approx(1.0) and lim.wait_time("AC2", 0.0) == 0.0
    assert lim.available("AC1", 2.5) == 2
