"""Next week's figures from the weekly series, stated in plain Swedish with how sure they are.

A prediction is made only from at least ``MIN_WEEKS`` weeks with calls; with less the
report says so instead of guessing. The fit is a least-squares line over the weeks
(missing weeks keep their place on the time axis). Confidence combines how much
history there is (full at ``FULL_WEEKS`` weeks) with how closely the weeks follow the
line (the residual spread against a scale that matters to a reader), and is given as
a number 0–1 and as a word (hög / måttlig / låg). Everything a reader sees is Swedish.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any, Protocol

from engine.analysis import sv

MIN_WEEKS = 3
FULL_WEEKS = 8
QUALITY_SCALE = 0.1
"""A residual spread of 0.1 in weekly average quality makes the line useless (fit factor 0)."""
FLAT_QUALITY = 0.005
"""Quality slopes smaller than this per week are described as steady."""


class Week(Protocol):
    @property
    def week(self) -> dt.date: ...
    @property
    def count(self) -> int: ...
    @property
    def average_quality(self) -> float | None: ...


def fit(points: Sequence[tuple[float, float]]) -> tuple[float, float, float]:
    """Least squares over (x, y): (slope, intercept, residual standard deviation)."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0
    intercept = my - slope * mx
    sse = sum((y - (intercept + slope * x)) ** 2 for x, y in points)
    spread = math.sqrt(sse / (n - 2)) if n > 2 else 0.0
    return slope, intercept, spread


def confidence(n: int, spread: float, scale: float) -> float:
    """0–1: more weeks and a closer fit → surer. ``scale``: the spread at which the fit says nothing."""
    data = min(1.0, n / FULL_WEEKS)
    closeness = max(0.0, 1.0 - spread / scale) if scale > 0 else 0.0
    return round(data * closeness, 2)


def _fit_words(spread: float, scale: float) -> str:
    ratio = spread / scale if scale > 0 else 1.0
    if ratio <= 0.25:
        return "veckorna följer trenden väl"
    if ratio <= 0.6:
        return "veckorna följer trenden ganska väl"
    return "veckorna varierar mycket kring trenden"


def _sure(conf: float, basis: str, fit_words: str) -> str:
    return f"Säkerhet: {sv.confidence_word(conf)} – bygger på {basis} och {fit_words}."


def quality_forecast(series: Sequence[Week]) -> dict[str, Any]:
    pts = [(float(i), p.average_quality) for i, p in enumerate(series) if p.average_quality is not None]
    next_week = series[-1].week + dt.timedelta(days=7) if series else None
    if len(pts) < MIN_WEEKS:
        return {
            "metric": "average_quality",
            "forecast_next_week": None,
            "confidence": 0.0,
            "confidence_label": "ingen",
            "basis_weeks": len(pts),
            "method": f"prognos först när det finns samtal från minst {MIN_WEEKS} veckor",
            "statement": (
                f"Ingen prognos för kvaliteten ännu: det behövs samtal från minst {sv.weeks(MIN_WEEKS)}, "
                f"nu finns {sv.weeks(len(pts))}."
            ),
        }
    slope, intercept, spread = fit(pts)
    forecast = min(1.0, max(0.0, intercept + slope * len(series)))
    conf = confidence(len(pts), spread, QUALITY_SCALE)
    if abs(slope) < FLAT_QUALITY:
        direction = f"legat stilla under {sv.last_weeks(len(series))}"
    else:
        way = "uppåt" if slope > 0 else "nedåt"
        direction = f"rört sig {way} med {sv.signed(slope, 2)} per vecka under {sv.last_weeks(len(series))}"
    return {
        "metric": "average_quality",
        "forecast_next_week": round(forecast, 2),
        "week": next_week.isoformat() if next_week else None,
        "slope_per_week": round(slope, 4),
        "confidence": conf,
        "confidence_label": sv.confidence_word(conf),
        "basis_weeks": len(pts),
        "method": "trendlinje (minsta kvadrat) genom veckornas snittkvalitet",
        "statement": (
            f"Snittkvaliteten väntas hamna kring {sv.number(forecast, 2)} nästa vecka "
            f"({sv.week(next_week)}). Den har {direction}."
        ),
        "confidence_text": _sure(conf, f"{sv.weeks(len(pts))} med samtal", _fit_words(spread, QUALITY_SCALE)),
    }


def volume_forecast(series: Sequence[Week]) -> dict[str, Any] | None:
    """Calls next week; weeks before the first call do not count (the store had not started)."""
    first = next((i for i, p in enumerate(series) if p.count > 0), None)
    if first is None or len(series) - first < MIN_WEEKS:
        return None
    pts = [(float(i), float(p.count)) for i, p in enumerate(series) if i >= first]
    slope, intercept, spread = fit(pts)
    mean = sum(y for _, y in pts) / len(pts)
    scale = max(1.0, 0.5 * mean)
    forecast = max(0, round(intercept + slope * len(series)))
    conf = confidence(len(pts), spread, scale)
    next_week = series[-1].week + dt.timedelta(days=7)
    return {
        "metric": "feedback_count",
        "forecast_next_week": forecast,
        "week": next_week.isoformat(),
        "slope_per_week": round(slope, 2),
        "confidence": conf,
        "confidence_label": sv.confidence_word(conf),
        "basis_weeks": len(pts),
        "method": "trendlinje (minsta kvadrat) genom antalet samtal per vecka",
        "statement": f"Antalet samtal väntas bli omkring {sv.integer(forecast)} nästa vecka ({sv.week(next_week)}).",
        "confidence_text": _sure(conf, sv.weeks(len(pts)), _fit_words(spread, scale)),
    }


def issue_forecasts(growing: Sequence[tuple[str, int, int]]) -> list[dict[str, Any]]:
    """For problems mentioned more this week than last: (title, calls now, calls last week)."""
    out = []
    for title, now, before in growing:
        growth = now - before
        conf = round(min(0.35, 0.1 + 0.05 * growth), 2)  # two weeks are never much to go on
        out.append(
            {
                "metric": "issue_mentions",
                "issue": title,
                "forecast_next_week": now + growth,
                "confidence": conf,
                "confidence_label": sv.confidence_word(conf),
                "basis_weeks": 2,
                "method": "framskrivning av ökningen mellan de två senaste veckorna",
                "statement": (
                    f"Problemet ”{title}” togs upp i {sv.calls(now)} denna vecka och "
                    + ("inte alls" if before == 0 else f"i {sv.calls(before)}")
                    + f" veckan innan. Fortsätter ökningen blir det omkring {sv.calls(now + growth)} nästa vecka."
                ),
                "confidence_text": f"Säkerhet: {sv.confidence_word(conf)} – bygger bara på två veckor.",
            }
        )
    return out
