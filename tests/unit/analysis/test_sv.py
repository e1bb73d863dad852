"""Swedish number, money and date formatting (what a store owner reads on the page)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from engine.analysis import sv
from engine.rewards.money import Money

NB = "\u00a0"


def test_examples_as_swedish_typography_writes_them() -> None:
    assert sv.integer(3.0) == "3" and sv.integer(3) == "3"
    assert sv.integer(12000) == f"12{NB}000" and sv.integer(1234567) == f"1{NB}234{NB}567"
    assert (
        sv.percent(0.375) == f"37,5{NB}%" and sv.percent(0.4) == f"40{NB}%" and sv.percent(1) == f"100{NB}%"
    )
    assert sv.number(0.675, 2) == "0,68"  # half up on the decimal the reader saw, not the float below it
    assert sv.number(-1234.5, 1) == f"\u22121{NB}234,5"
    assert sv.signed(-0.05, 2) == "\u22120,05" and sv.signed(3) == "+3" and sv.signed(0.001, 2) == "±0"
    assert sv.signed(2.5, 1, "procentenheter") == f"+2,5{NB}procentenheter"
    assert (sv.arrow(0.02, 2), sv.arrow(-3), sv.arrow(0.001, 2), sv.arrow(None)) == ("▲", "▼", "►", "")
    assert (
        sv.money(Money.of("1234.5")) == f"1{NB}234,50{NB}kr"
        and sv.money(Money.of("12.3", "EUR")) == f"12,30{NB}EUR"
    )
    assert sv.percent_value(6.75) == f"6,75{NB}%" and sv.percent_value(15.0) == f"15{NB}%"
    assert sv.date("2026-11-16") == "16 november 2026" and sv.week(dt.date(2026, 11, 16)) == f"vecka{NB}47"
    assert sv.week_span("2026-11-16") == f"vecka{NB}47, 16–22 november 2026"
    assert sv.week_span("2026-11-30") == f"vecka{NB}49, 30 november – 6 december 2026"
    assert sv.week_short("2026-11-16") == "v.47" and sv.weeks(1) == "1 vecka" and sv.weeks(3) == "3 veckor"
    assert [sv.confidence_word(c) for c in (0.9, 0.7, 0.5, 0.39, None)] == [
        "hög",
        "hög",
        "måttlig",
        "låg",
        "låg",
    ]
    for missing in (None, float("nan"), float("inf"), "x"):
        assert sv.integer(missing) == "–" and sv.percent(missing) == "–"  # type: ignore[arg-type]
    assert sv.date("not a date") == "–" and sv.date(None) == "–"


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_integers_read_back(n: int) -> None:
    text = sv.integer(n)
    assert int(text.replace(NB, "").replace("\u2212", "-")) == n
    assert " " not in text and "." not in text and "-" not in text
    assert all(len(g) == 3 for g in text.lstrip("\u2212").split(NB)[1:])


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False))
def test_decimals_read_back(value: Decimal) -> None:
    text = sv.number(value, 2)
    back = Decimal(text.replace(NB, "").replace(",", ".").replace("\u2212", "-"))
    assert back == value and text.count(",") == 1


@given(st.floats(min_value=0, max_value=1, allow_nan=False))
def test_shares_are_percentages_with_a_comma(share: float) -> None:
    text = sv.percent(share)
    assert text.endswith(f"{NB}%") and "." not in text
    assert abs(float(text[:-2].replace(",", ".")) - share * 100) <= 0.05 + 1e-9
