"""Weekly report per store and week: deterministic statistics + LLM themes grounded by them.

Input is what the assessments already hold (scores and structured actionable
items), so a week of 10,000 calls builds without reading a transcript. Themes
come from the LLM (``WeeklyThemes``) but only survive if the counted statistics
back them, with the counted numbers; without the LLM the statistics alone
produce them. Everything is a pure function of its inputs: a rebuild with the
same data gives the same report (``generated_at`` aside).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import msgspec

from engine.analysis import forecast, lexicon
from engine.analysis.config import AnalysisConfig
from engine.analysis.llm import STATS_MARK, THEMES_PROMPT_VERSION, THEMES_SYSTEM, StructuredLLM, WeeklyThemes
from engine.analysis.models import ActionableItem
from engine.analysis.scoring import round2

Key = tuple[str | None, str, str]  # (department, topic, sentiment)


class CallRecord(msgspec.Struct, frozen=True):
    """What the report needs from one assessed call."""

    overall: float
    reward: float
    is_fraudulent: bool
    items: list[ActionableItem]


class WeekPoint(msgspec.Struct, frozen=True):
    week: dt.date
    count: int
    average_quality: float | None


class ReportData(msgspec.Struct, frozen=True):
    """The weekly_analysis_reports columns (JSON fields as builtins)."""

    analysis_week: dt.date
    total_feedback_count: int
    average_quality_score: float | None
    positive_trends: list[dict[str, Any]]
    negative_issues: list[dict[str, Any]]
    new_issues: list[dict[str, Any]]
    department_insights: list[dict[str, Any]]
    historical_comparison: dict[str, Any]
    predictive_insights: list[dict[str, Any]]
    actionable_recommendations: list[dict[str, Any]]
    report_metadata: dict[str, Any]


def monday_of(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def call_record(overall: float, reward: float, fraudulent: bool, items_json: Any) -> tuple[CallRecord, int]:
    """A CallRecord from stored columns; also how many stored items were invalid (skipped)."""
    items: list[ActionableItem] = []
    bad = 0
    for raw in items_json if isinstance(items_json, list) else []:
        try:
            items.append(msgspec.convert(raw, ActionableItem))
        except msgspec.ValidationError:
            bad += 1
    return CallRecord(overall, reward, fraudulent, items), bad


def mention_counts(calls: Sequence[CallRecord]) -> Counter[Key]:
    """Calls per (department, topic, sentiment); a call counts once per key. Fraudulent calls excluded."""
    counts: Counter[Key] = Counter()
    for call in calls:
        if call.is_fraudulent:
            continue
        keys = {(i.department, i.topic, i.sentiment) for i in call.items if i.sentiment != "neutral"}
        counts.update(keys)
    return counts


def _week_stats(calls: Sequence[CallRecord]) -> dict[str, Any]:
    honest = [c for c in calls if not c.is_fraudulent]
    avg = round2(sum(c.overall for c in honest) / len(honest)) if honest else None
    return {
        "feedback_count": len(calls),
        "average_quality": avg,
        "fraudulent": len(calls) - len(honest),
        "fraud_rate": round(1 - len(honest) / len(calls), 3) if calls else 0.0,
        "average_reward": round2(sum(c.reward for c in honest) / len(honest)) if honest else None,
    }


def _title(key: Key) -> str:
    dep, topic, _ = key
    return f"{topic} ({dep})" if dep else topic


def _theme(key: Key, calls: int, total: int, source: str, title: str | None = None) -> dict[str, Any]:
    """A reported theme; ``total`` is the week's honest calls (at least ``calls``, so never 0)."""
    dep, topic, sentiment = key
    return {
        "title": title or _title(key),
        "topic": topic,
        "department": dep,
        "sentiment": sentiment,
        "calls": calls,
        "share": round(calls / total, 3),
        "source": source,
    }


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def dense_series(points: Sequence[WeekPoint], current: WeekPoint, weeks: int) -> list[WeekPoint]:
    """Up to ``weeks`` consecutive weeks ending with ``current``; weeks without calls count 0.

    Starts at the first week that had calls, so a new store's chart does not open with empty weeks.
    """
    by_week = {p.week: p for p in points if p.week < current.week}
    first = current.week - dt.timedelta(days=7 * (weeks - 1))
    known = [w for w in by_week if w >= first]
    start = min(known) if known else current.week
    out = []
    day = start
    while day < current.week:
        out.append(by_week.get(day, WeekPoint(day, 0, None)))
        day += dt.timedelta(days=7)
    return [*out, current]


def predictive_insights(
    series: Sequence[WeekPoint], issue_deltas: dict[Key, tuple[int, int]]
) -> list[dict[str, Any]]:
    """Quality and call volume next week (when there is history enough), then growing problems."""
    out = [forecast.quality_forecast(series)]
    volume = forecast.volume_forecast(series)
    if volume is not None:
        out.append(volume)
    growing = sorted(issue_deltas.items(), key=lambda kv: (-(kv[1][0] - kv[1][1]), str(kv[0])))[:3]
    out += forecast.issue_forecasts(
        [(_cap(_title(key)), now, before) for key, (now, before) in growing if now > before]
    )
    return out


async def build_report(
    week: dt.date,
    calls: Sequence[CallRecord],
    previous_calls: Sequence[CallRecord],
    history: Sequence[WeekPoint],
    llm: StructuredLLM | None,
    config: AnalysisConfig,
    *,
    departments: Sequence[str] = (),
    invalid_items: int = 0,
) -> ReportData:
    """Build the report for ``week`` (a Monday). ``history``: earlier weeks, oldest first."""
    started = time.perf_counter()
    rc = config.report
    counts = mention_counts(calls)
    prev_counts = mention_counts(previous_calls)
    honest_total = sum(1 for c in calls if not c.is_fraudulent)
    current, previous = _week_stats(calls), _week_stats(previous_calls)
    backed = {k: n for k, n in counts.items() if n >= rc.min_theme_mentions}

    themes_source = "statistics"
    llm_info: dict[str, Any] | None = None
    llm_recs: list[dict[str, Any]] = []
    pos: list[dict[str, Any]] = []
    neg: list[dict[str, Any]] = []
    if llm is not None and backed:
        stats = {
            "week": week.isoformat(),
            "calls": honest_total,
            "mentions": [
                {"department": k[0], "topic": k[1], "sentiment": k[2], "calls": n}
                for k, n in sorted(backed.items(), key=lambda kv: (-kv[1], str(kv[0])))[:40]
            ],
        }
        answer, info = await llm.complete(
            WeeklyThemes,
            THEMES_SYSTEM,
            f"{STATS_MARK}\n{json.dumps(stats, ensure_ascii=False)}",
            THEMES_PROMPT_VERSION,
        )
        llm_info = msgspec.to_builtins(info)
        if answer is not None:
            themes_source = "llm+statistics"
            for t in answer.positive_trends + answer.negative_issues:
                key: Key = (t.department, t.topic, t.sentiment)
                if key in backed:  # grounding: only counted themes, with the counted number
                    (pos if t.sentiment == "positive" else neg).append(
                        _theme(key, backed[key], honest_total, "llm", t.title)
                    )
            known = {d for d, _, _ in backed}
            llm_recs = [
                {
                    "action": r.action,
                    "department": r.department if r.department in known else None,
                    "priority": r.priority,
                    "rationale": r.rationale,
                    "source": "llm",
                }
                for r in answer.recommendations[:5]
            ]
    for key, n in sorted(backed.items(), key=lambda kv: (-kv[1], str(kv[0]))):
        bucket = pos if key[2] == "positive" else neg
        if not any((t["department"], t["topic"]) == key[:2] for t in bucket):
            bucket.append(_theme(key, n, honest_total, "statistics"))
    pos = sorted(pos, key=lambda t: -t["calls"])[: rc.max_themes]
    neg = sorted(neg, key=lambda t: -t["calls"])[: rc.max_themes]
    for theme in pos + neg:
        theme["previous_week_calls"] = prev_counts.get(
            (theme["department"], theme["topic"], theme["sentiment"]), 0
        )

    prev_neg = {(d, t) for (d, t, s), n in prev_counts.items() if s == "negative" and n >= 1}
    new_issues = [
        t
        for t in neg
        if (t["department"], t["topic"]) not in prev_neg and t["calls"] >= rc.new_issue_min_mentions
    ]
    issue_deltas = {
        (t["department"], t["topic"], "negative"): (
            t["calls"],
            prev_counts.get((t["department"], t["topic"], "negative"), 0),
        )
        for t in neg
    }

    recommendations = llm_recs or [
        {
            "action": lexicon.SUGGESTIONS.get(t["topic"], lexicon.SUGGESTIONS["allmänt"]),
            "department": t["department"],
            "priority": "high" if t["share"] >= 0.1 else "medium",
            "rationale": f"{t['calls']} samtal tog upp {t['topic']}.",
            "source": "statistics",
        }
        for t in neg[:5]
    ]

    series = dense_series(history, WeekPoint(week, len(calls), current["average_quality"]), rc.history_weeks)
    historical = {
        "current_week": {"week": week.isoformat(), **current},
        "previous_week": {"week": (week - dt.timedelta(days=7)).isoformat(), **previous},
        "change": _change(current, previous),
        "weeks": [
            {"week": p.week.isoformat(), "feedback_count": p.count, "average_quality": p.average_quality}
            for p in series
        ],
    }
    insights = _department_insights(calls, previous_calls, departments)
    predictions = predictive_insights(series, issue_deltas)
    # Wall-clock time, not a result: no test can pin it, so it is not mutated.
    build_ms = round((time.perf_counter() - started) * 1000, 1)  # pragma: no mutate
    return ReportData(
        analysis_week=week,
        total_feedback_count=len(calls),
        average_quality_score=current["average_quality"],
        positive_trends=pos,
        negative_issues=neg,
        new_issues=new_issues,
        department_insights=insights,
        historical_comparison=historical,
        predictive_insights=predictions,
        actionable_recommendations=recommendations,
        report_metadata={
            "themes_source": themes_source,
            "prompt_version": THEMES_PROMPT_VERSION,
            "model": llm.model if llm is not None else None,
            "llm": llm_info,
            "calls_considered": len(calls),
            "fraudulent_excluded": current["fraudulent"],
            "invalid_items_skipped": invalid_items,
            "min_theme_mentions": rc.min_theme_mentions,
            "build_ms": build_ms,
        },
    )


def _change(cur: dict[str, Any], prev: dict[str, Any]) -> dict[str, Any]:
    def delta(name: str) -> float | None:
        a, b = cur.get(name), prev.get(name)
        return None if a is None or b is None else round(a - b, 3)

    pc = prev["feedback_count"]
    return {
        "feedback_count": cur["feedback_count"] - pc,
        "feedback_count_pct": round(100 * (cur["feedback_count"] - pc) / pc, 1) if pc else None,
        "average_quality": delta("average_quality"),
        "fraud_rate": delta("fraud_rate"),
        "average_reward": delta("average_reward"),
    }


def _department_insights(
    calls: Sequence[CallRecord], previous: Sequence[CallRecord], departments: Sequence[str]
) -> list[dict[str, Any]]:
    def per_department(cs: Sequence[CallRecord]) -> dict[str, dict[str, Any]]:
        acc: dict[str, dict[str, Any]] = defaultdict(
            lambda: {"calls": 0, "positive": 0, "negative": 0, "quality": 0.0, "topics": Counter()}
        )
        for c in cs:
            if c.is_fraudulent:
                continue
            seen: set[str] = set()
            for i in c.items:
                if i.department is None:
                    continue
                d = acc[i.department]
                if i.department not in seen:
                    seen.add(i.department)
                    d["calls"] += 1
                    d["quality"] += c.overall
                if i.sentiment == "positive":
                    d["positive"] += 1
                elif i.sentiment == "negative":
                    d["negative"] += 1
                    d["topics"][i.topic] += 1
        return acc

    now, before = per_department(calls), per_department(previous)
    names = sorted(set(now) | set(departments), key=lambda n: (-now[n]["calls"] if n in now else 0, n))
    out = []
    for name in names:
        d = now.get(name)
        calls_n = d["calls"] if d else 0
        prev_n = before[name]["calls"] if name in before else 0
        out.append(
            {
                "department": name,
                "calls": calls_n,
                "positive_mentions": d["positive"] if d else 0,
                "negative_mentions": d["negative"] if d else 0,
                "average_quality": round2(d["quality"] / calls_n) if d and calls_n else None,
                "top_issue": d["topics"].most_common(1)[0][0] if d and d["topics"] else None,
                "previous_week_calls": prev_n,
                "change": calls_n - prev_n,
            }
        )
    return out
