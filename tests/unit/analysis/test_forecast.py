"""Forecasts: a fitted line, a confidence that grows with history and fit, and plain Swedish."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from engine.analysis import forecast
from engine.analysis.report import WeekPoint

MONDAY = dt.date(2026, 9, 7)


def series(values: list[float | None], counts: list[int] | None = None) -> list[WeekPoint]:
    counts = counts or [10] * len(values)
    return [
        WeekPoint(MONDAY + dt.timedelta(days=7 * i), c, v)
        for i, (v, c) in enumerate(zip(values, counts, strict=True))
    ]


def test_fit_recovers_a_line() -> None:
    slope, intercept, spread = forecast.fit([(0, 0.4), (1, 0.45), (2, 0.5), (3, 0.55)])
    assert round(slope, 6) == 0.05 and round(intercept, 6) == 0.4 and spread < 1e-9


def test_a_steady_rise_is_predicted_with_its_confidence() -> None:
    q = forecast.quality_forecast(series([0.40, 0.42, 0.44, 0.46, 0.48, 0.50, 0.52, 0.54]))
    assert q["forecast_next_week"] == 0.56 and q["confidence"] == 1.0 and q["confidence_label"] == "hög"
    assert "uppåt med +0,02 per vecka under de senaste 8 veckorna" in q["statement"]
    assert q["week"] == (MONDAY + dt.timedelta(days=56)).isoformat() and "vecka\u00a0" in q["statement"]
    assert q["confidence_text"].startswith("Säkerhet: hög – bygger på 8 veckor med samtal")


def test_noise_and_little_history_lower_the_confidence() -> None:
    short = forecast.quality_forecast(series([0.5, 0.5, 0.5]))
    assert short["confidence"] == round(3 / 8, 2) and short["confidence_label"] == "låg"
    assert "legat stilla" in short["statement"]
    noisy = forecast.quality_forecast(series([0.3, 0.7, 0.35, 0.65, 0.3, 0.7, 0.35, 0.65]))
    assert noisy["confidence"] < 0.2 and "varierar mycket" in noisy["confidence_text"]


def test_gaps_keep_their_place_and_too_little_history_is_said_plainly() -> None:
    gap = forecast.quality_forecast(series([0.4, None, 0.5, None, 0.6]))
    assert gap["forecast_next_week"] == 0.65 and gap["basis_weeks"] == 3  # x = week index, not point index
    none = forecast.quality_forecast(series([None, 0.5]))
    assert none["forecast_next_week"] is None and none["statement"] == (
        "Ingen prognos för kvaliteten ännu: det behövs samtal från minst 3 veckor, nu finns 1 vecka."
    )


def test_volume_starts_with_the_first_week_that_had_calls() -> None:
    assert forecast.volume_forecast(series([None, None, 0.5, 0.5], [0, 0, 4, 6])) is None
    v = forecast.volume_forecast(series([None, 0.5, 0.5, 0.5], [0, 4, 6, 8]))
    assert v is not None and v["forecast_next_week"] == 10 and v["basis_weeks"] == 3


@given(
    st.integers(min_value=1, max_value=30),
    st.integers(min_value=1, max_value=30),
    st.floats(min_value=0, max_value=1),
    st.floats(min_value=0, max_value=1),
)
def test_confidence_is_bounded_and_grows_with_history_and_fit(n1: int, n2: int, s1: float, s2: float) -> None:
    lo_n, hi_n = sorted((n1, n2))
    tight, loose = sorted((s1 * 0.2, s2 * 0.2))
    for n in (lo_n, hi_n):
        assert 0.0 <= forecast.confidence(n, loose, 0.1) <= forecast.confidence(n, tight, 0.1) <= 1.0
    assert forecast.confidence(lo_n, tight, 0.1) <= forecast.confidence(hi_n, tight, 0.1)
