"""Money: exact decimals, explicit half-up rounding to the minor unit, one currency per sum."""

from __future__ import annotations

import decimal
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import ValidationError
from engine.rewards.money import MINOR_UNIT_DIGITS, Money, currency_code, percentage_of, quantum, total

# Purchase amounts as the database holds them: NUMERIC(12,2), i.e. whole öre.
ore = st.integers(min_value=0, max_value=999_999_999_999)
purchases = ore.map(lambda n: Money(Decimal(n).scaleb(-2), "SEK"))
# Reward percentages as the assessment holds them: NUMERIC(4,2) within 2.00–15.00.
percentages = st.integers(min_value=200, max_value=1500).map(lambda n: Decimal(n).scaleb(-2))


def test_worked_examples_round_half_up_to_ore() -> None:
    assert percentage_of(Money.of("249.50"), Decimal("6.75")).amount == Decimal("16.84")  # 16.84125
    assert percentage_of(Money.of("10.10"), Decimal("2.50")).amount == Decimal("0.25")  # 0.2525
    assert percentage_of(Money.of("0.10"), Decimal("5.00")).amount == Decimal("0.01")  # 0.005: half up
    assert percentage_of(Money.of("0.09"), Decimal("5.00")).amount == Decimal("0.00")  # 0.0045
    assert percentage_of(Money.of("8990.00"), Decimal("15.00")).amount == Decimal("1348.50")
    assert percentage_of(Money.of("1000", "ISK"), Decimal("2.50")).amount == Decimal("25")


def test_money_refuses_floats_bad_scale_unknown_currency_and_negatives() -> None:
    with pytest.raises(ValidationError, match="float"):
        Money.of(249.5)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="decimals"):
        Money.of("1.005")
    with pytest.raises(ValidationError, match="decimals"):
        Money.of("10.5", "JPY")
    with pytest.raises(ValidationError, match="currency"):
        Money.of("1", "SEKK")
    with pytest.raises(ValidationError, match="negative"):
        Money.of("-1")
    with pytest.raises(ValidationError):
        Money.of("NaN")
    with pytest.raises(ValidationError, match="decimal"):
        Money.of("abc")
    with pytest.raises(ValidationError, match="currency"):
        _ = Money.of("1", "SEK") + Money.of("1", "EUR")
    with pytest.raises(ValidationError, match="percentage"):
        percentage_of(Money.of("1"), Decimal("100.01"))
    with pytest.raises(ValidationError, match="percentage"):
        percentage_of(Money.of("1"), 5.0)  # type: ignore[arg-type]


def test_canonical_scale_and_text() -> None:
    assert Money.of("249.5") == Money.of("249.50") and str(Money.of("249.5")) == "249.50 SEK"
    assert str(Money.zero("JPY")) == "0 JPY"
    assert quantum("SEK") == Decimal("0.01") and quantum("ISK") == Decimal("1")


@given(purchases, percentages)
def test_reward_is_the_exact_product_rounded_half_up(purchase: Money, pct: Decimal) -> None:
    reward = percentage_of(purchase, pct)
    exact = purchase.amount * pct / 100  # exact in Decimal's default 28 digits for these sizes
    assert reward.currency == purchase.currency
    assert reward.amount == reward.amount.quantize(Decimal("0.01"))  # whole öre
    assert abs(reward.amount - exact) <= Decimal("0.005")
    # half-up: exactly half an öre rounds away from zero, anything less rounds down
    assert reward.amount >= exact or exact - reward.amount < Decimal("0.005")
    assert Decimal(0) <= reward.amount <= purchase.amount * Decimal("0.15") + Decimal("0.005")


@given(purchases, percentages, percentages)
def test_reward_is_monotone_in_the_percentage(purchase: Money, a: Decimal, b: Decimal) -> None:
    lo, hi = sorted((a, b))
    assert percentage_of(purchase, lo).amount <= percentage_of(purchase, hi).amount


@given(ore, ore, percentages)
def test_reward_is_monotone_in_the_purchase(a: int, b: int, pct: Decimal) -> None:
    lo, hi = sorted((a, b))
    small = percentage_of(Money(Decimal(lo).scaleb(-2), "SEK"), pct)
    large = percentage_of(Money(Decimal(hi).scaleb(-2), "SEK"), pct)
    assert small.amount <= large.amount


@given(st.lists(st.tuples(purchases, percentages), max_size=40))
def test_totals_are_exact_sums(rows: list[tuple[Money, Decimal]]) -> None:
    rewards = [percentage_of(p, pct) for p, pct in rows]
    assert total(rewards).amount == sum((r.amount for r in rewards), Decimal(0))


@given(st.sampled_from(sorted(MINOR_UNIT_DIGITS)), st.integers(min_value=0, max_value=10**12), percentages)
def test_every_currency_rounds_to_its_own_minor_unit(currency: str, minor: int, pct: Decimal) -> None:
    purchase = Money(Decimal(minor).scaleb(-MINOR_UNIT_DIGITS[currency]), currency)
    reward = percentage_of(purchase, pct)
    assert reward.amount.as_tuple().exponent == -MINOR_UNIT_DIGITS[currency]
    assert abs(reward.amount - purchase.amount * pct / 100) <= quantum(currency) / 2


def _refused(call: object) -> str:
    with pytest.raises(ValidationError) as raised:
        call()  # type: ignore[operator]
    return str(raised.value)  # "field: message"


def test_each_refusal_names_its_field_and_reason() -> None:
    known = "CHF, DKK, EUR, GBP, ISK, JPY, NOK, PLN, SEK, USD"
    assert _refused(lambda: Money.of("1", "SEKK")) == f"currency: must be one of {known}"
    assert (
        _refused(lambda: currency_code("sek", "store_currency")) == f"store_currency: must be one of {known}"
    )
    assert _refused(lambda: Money(Decimal("NaN"), "SEK")) == "amount: must be a finite decimal"
    assert _refused(lambda: Money("1.00", "SEK")) == "amount: must be a finite decimal"  # type: ignore[arg-type]
    assert _refused(lambda: Money.of("-1")) == "amount: must not be negative"
    assert _refused(lambda: Money.of("1.005")) == "amount: has more decimals than SEK allows (2)"
    assert _refused(lambda: Money.of(2.5)) == (  # type: ignore[arg-type]
        "amount: must be a decimal string, Decimal or int (never a float)"
    )
    assert _refused(lambda: Money.of(True)) == (  # type: ignore[arg-type]
        "amount: must be a decimal string, Decimal or int (never a float)"
    )
    assert _refused(lambda: Money.of("abc")) == "amount: is not a decimal number"
    assert _refused(lambda: Money.of("1") + Money.of("1", "EUR")) == "currency: cannot add EUR to SEK"
    assert _refused(lambda: percentage_of(Money.of("1"), Decimal("Infinity"))) == (
        "reward_percentage: must be a finite Decimal"
    )
    assert _refused(lambda: percentage_of(Money.of("1"), Decimal("-0.01"))) == (
        "reward_percentage: must be within 0–100"
    )


def test_percentages_from_zero_to_a_hundred_inclusive() -> None:
    purchase = Money.of("80.00")
    assert percentage_of(purchase, Decimal(0)) == Money.of("0.00")
    assert percentage_of(purchase, Decimal("0.5")) == Money.of("0.40")
    assert percentage_of(purchase, Decimal(100)) == purchase


def test_the_threads_decimal_context_changes_nothing() -> None:
    # A caller's context (few digits, banker's rounding) must not reach the money arithmetic.
    with decimal.localcontext() as ctx:
        ctx.prec = 5
        ctx.rounding = decimal.ROUND_HALF_EVEN
        big = Money.of("1234567.5")
        assert big.amount == Decimal("1234567.50")
        assert Money(Decimal("1234567.50"), "SEK") == big
        assert percentage_of(Money.of("1234567.50"), Decimal("2.50")).amount == Decimal("30864.19")  # .1875
        assert percentage_of(Money.of("0.10"), Decimal("5.00")).amount == Decimal("0.01")  # .005: half up
        assert total([big, big]).amount == Decimal("2469135.00")
