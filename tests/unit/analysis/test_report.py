"""Weekly report building: statistics, grounding of LLM themes, new issues, week over week, rendering."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import msgspec

from engine.analysis.config import DEFAULT_CONFIG
from engine.analysis.llm import STATS_MARK, THEMES_PROMPT_VERSION, THEMES_SYSTEM, SchemaT
from engine.analysis.models import ActionableItem, LLMCallInfo
from engine.analysis.render import render_html
from engine.analysis.report import (
    CallRecord,
    Key,
    WeekPoint,
    build_report,
    call_record,
    dense_series,
    mention_counts,
    monday_of,
    predictive_insights,
)
from tests.unit.analysis.test_chat_emulator import ChatServer

WEEK = dt.date(2026, 11, 16)
PREV = WEEK - dt.timedelta(days=7)


def item(dep: str | None, topic: str, sentiment: str = "negative") -> ActionableItem:
    return ActionableItem(topic=topic, sentiment=sentiment, suggestion="s", department=dep)  # type: ignore[arg-type]


def calls(n: int, items: list[ActionableItem], overall: float = 0.6, fraud: bool = False) -> list[CallRecord]:
    return [CallRecord(overall, 8.0, fraud, items) for _ in range(n)]


def two_weeks() -> tuple[list[CallRecord], list[CallRecord]]:
    prev = calls(4, [item("Kassa", "kö och väntetid")], 0.5) + calls(
        2, [item("Bageri", "pris", "positive")], 0.7
    )
    cur = (
        calls(3, [item("Kassa", "kö och väntetid")], 0.6)
        + calls(3, [item("Mejeri", "sortiment och tillgång")], 0.6)
        + calls(2, [item("Bageri", "pris", "positive")], 0.9)
        + calls(1, [item("Mejeri", "sortiment och tillgång")], 0.1, fraud=True)
    )
    return prev, cur


class ThemesLLM:
    model = "fake"

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        self.prompts: list[str] = []
        self.systems: list[str] = []

    async def complete(
        self, schema: type[SchemaT], system: str, user: str, prompt_version: str
    ) -> tuple[SchemaT | None, LLMCallInfo]:
        self.prompts.append(user)
        self.systems.append(system)
        return schema.model_validate(self.payload), LLMCallInfo(self.model, prompt_version, 1, 1.0)


async def test_two_week_dataset_new_issue_and_week_over_week() -> None:
    prev, cur = two_weeks()
    r = await build_report(
        WEEK, cur, prev, [], None, DEFAULT_CONFIG, departments=["Kassa", "Bageri", "Mejeri", "Frukt"]
    )
    assert r.total_feedback_count == 9
    assert r.average_quality_score == 0.68  # (0.6·6 + 0.9·2) / 8 = 0.675, half-up; fraudulent call excluded
    assert [(t["department"], t["topic"], t["calls"]) for t in r.new_issues] == [
        ("Mejeri", "sortiment och tillgång", 3)
    ]
    assert {(t["department"], t["calls"]) for t in r.negative_issues} == {("Kassa", 3), ("Mejeri", 3)}
    change = r.historical_comparison["change"]
    assert change["feedback_count"] == 9 - 6 and change["feedback_count_pct"] == 50.0
    assert r.historical_comparison["previous_week"]["average_quality"] == 0.57
    assert change["average_quality"] == 0.11
    deps = {d["department"]: d for d in r.department_insights}
    assert deps["Kassa"]["previous_week_calls"] == 4 and deps["Kassa"]["change"] == -1
    assert deps["Frukt"]["calls"] == 0  # a store department nobody mentioned is still listed
    assert (
        r.report_metadata["themes_source"] == "statistics" and r.report_metadata["fraudulent_excluded"] == 1
    )
    assert r.actionable_recommendations and all(
        rec["source"] == "statistics" for rec in r.actionable_recommendations
    )


async def test_rebuild_is_identical() -> None:
    prev, cur = two_weeks()
    a = msgspec.to_builtins(await build_report(WEEK, cur, prev, [], None, DEFAULT_CONFIG))
    b = msgspec.to_builtins(await build_report(WEEK, cur, prev, [], None, DEFAULT_CONFIG))
    a["report_metadata"].pop("build_ms")
    b["report_metadata"].pop("build_ms")
    assert a == b


async def test_llm_themes_are_grounded_by_counts() -> None:
    prev, cur = two_weeks()
    llm = ThemesLLM(
        {
            "positive_trends": [
                {
                    "title": "Billigt bröd",
                    "topic": "pris",
                    "department": "Bageri",
                    "sentiment": "positive",
                    "evidence_calls": 99,
                }
            ],
            "negative_issues": [
                {
                    "title": "Påhittat",
                    "topic": "parkering",
                    "department": "Garage",
                    "sentiment": "negative",
                    "evidence_calls": 50,
                }
            ],
            "recommendations": [
                {
                    "action": "Fyll på mejerihyllan",
                    "department": "Mejeri",
                    "priority": "high",
                    "rationale": "r",
                }
            ],
        }
    )
    r = await build_report(WEEK, cur, prev, [], llm, DEFAULT_CONFIG)
    assert r.positive_trends[0]["title"] == "Billigt bröd" and r.positive_trends[0]["calls"] == 2
    assert all(t["department"] != "Garage" for t in r.negative_issues)
    assert r.actionable_recommendations[0]["action"] == "Fyll på mejerihyllan"
    assert r.report_metadata["themes_source"] == "llm+statistics"
    assert "### STATISTIK" in llm.prompts[0] and "Kassa" in llm.prompts[0]


async def test_themes_through_emulator(chat_server: ChatServer) -> None:
    import openai

    from engine.analysis.config import LLMConfig
    from engine.analysis.llm import OpenAIStructuredLLM

    llm = OpenAIStructuredLLM(
        openai.AsyncOpenAI(api_key="x", base_url=chat_server.base_url, max_retries=0),
        "gpt-4o-mini",
        LLMConfig(),
    )
    prev, cur = two_weeks()
    r = await build_report(WEEK, cur, prev, [], llm, DEFAULT_CONFIG)
    assert r.report_metadata["themes_source"] == "llm+statistics"
    assert any(t["source"] == "llm" for t in r.negative_issues)


async def test_prediction_states_confidence() -> None:
    history = [WeekPoint(PREV - dt.timedelta(days=7 * i), 10, 0.4 + 0.02 * (5 - i)) for i in range(5, 0, -1)]
    prev, cur = two_weeks()
    r = await build_report(WEEK, cur, prev, history, None, DEFAULT_CONFIG)
    quality = r.predictive_insights[0]
    assert quality["metric"] == "average_quality" and 0.0 <= quality["confidence"] <= 1.0
    assert quality["basis_weeks"] == 6 and quality["slope_per_week"] > 0
    assert quality["statement"].startswith("Snittkvaliteten väntas hamna kring 0,")
    assert (
        quality["confidence_label"] in ("låg", "måttlig", "hög") and "Säkerhet:" in quality["confidence_text"]
    )
    volume = next(p for p in r.predictive_insights if p["metric"] == "feedback_count")
    assert isinstance(volume["forecast_next_week"], int) and "Antalet samtal" in volume["statement"]
    empty = await build_report(WEEK, [], [], [], None, DEFAULT_CONFIG)
    assert empty.total_feedback_count == 0 and empty.average_quality_score is None
    assert empty.predictive_insights[0]["confidence"] == 0.0
    assert empty.predictive_insights[0]["forecast_next_week"] is None
    assert empty.predictive_insights[0]["statement"].startswith("Ingen prognos för kvaliteten ännu")


async def test_predictions_need_three_weeks_and_are_swedish() -> None:
    prev, cur = two_weeks()
    two = await build_report(WEEK, cur, prev, [WeekPoint(PREV, 6, 0.57)], None, DEFAULT_CONFIG)
    quality = two.predictive_insights[0]
    assert quality["forecast_next_week"] is None and "minst 3 veckor" in quality["statement"]
    assert "nu finns 2 veckor" in quality["statement"]
    growing = [p for p in two.predictive_insights if p["metric"] == "issue_mentions"]
    assert [p["issue"] for p in growing] == ["Sortiment och tillgång (Mejeri)"]
    assert "inte alls veckan innan" in growing[0]["statement"] and growing[0]["confidence_label"] == "låg"
    english = ("linear", "extrapolation", "least", "squares", "weeks", "confidence")
    for p in two.predictive_insights:
        text = f"{p['statement']} {p['method']} {p.get('confidence_text', '')}".lower()
        assert not any(word in text for word in english), text


async def test_weeks_without_calls_keep_their_place() -> None:
    prev, cur = two_weeks()
    history = [WeekPoint(PREV - dt.timedelta(days=21), 4, 0.5), WeekPoint(PREV, 6, 0.57)]
    r = await build_report(WEEK, cur, prev, history, None, DEFAULT_CONFIG)
    weeks = r.historical_comparison["weeks"]
    assert [(w["week"], w["feedback_count"]) for w in weeks] == [
        ((PREV - dt.timedelta(days=21)).isoformat(), 4),
        ((PREV - dt.timedelta(days=14)).isoformat(), 0),
        ((PREV - dt.timedelta(days=7)).isoformat(), 0),
        (PREV.isoformat(), 6),
        (WEEK.isoformat(), 9),
    ]
    assert weeks[1]["average_quality"] is None
    long = [WeekPoint(WEEK - dt.timedelta(days=7 * i), 5, 0.5) for i in range(20, 0, -1)]
    r12 = await build_report(WEEK, cur, prev, long, None, DEFAULT_CONFIG)
    assert len(r12.historical_comparison["weeks"]) == 12  # up to 12 weeks, this one included
    themes = {t["topic"]: t["previous_week_calls"] for t in r12.negative_issues}
    assert themes == {"kö och väntetid": 4, "sortiment och tillgång": 0}


def test_call_record_skips_invalid_items_and_monday() -> None:
    rec, bad = call_record(
        0.5, 5.0, False, [{"topic": "kö", "sentiment": "negative", "suggestion": "x"}, {"topic": 3}]
    )
    assert len(rec.items) == 1 and bad == 1
    assert monday_of(dt.date(2026, 11, 22)) == WEEK


async def test_render_html_is_swedish_and_formatted_for_sweden() -> None:
    prev, cur = two_weeks()
    history = [WeekPoint(PREV - dt.timedelta(days=7 * i), 5, 0.5) for i in range(3, 0, -1)]
    r = msgspec.to_builtins(
        await build_report(WEEK, cur, prev, [*history, WeekPoint(PREV, 6, 0.57)], None, DEFAULT_CONFIG)
    )
    # the API hands the renderer JSON numbers as floats; the page must not show "9.0"
    r = {**r, "total_feedback_count": float(r["total_feedback_count"])}
    page = render_html(r, "Butik <Test>")
    text = _visible_text(page)
    assert page.count("<svg") == 3 and "<polyline" in page and 'stroke-dasharray="5 4"' in page  # forecast
    assert "Butik &lt;Test&gt;" in page and "vecka\u00a047, 16–22 november 2026" in text
    assert "37,5\u00a0%" in text and "0,68" in text and "▲\u00a0+0,11 mot förra veckan" in text
    assert "▲\u00a0+3 mot förra veckan" in text  # 9 calls against 6
    assert 'id="nya-problem"' in page and "Sortiment och tillgång (Mejeri)" in text
    assert '<tr class="is-new">' in page and 'class="badge">Ny<' in page
    assert "Säkerhet:" in text and "@page" in page and "@media print" in page
    import re

    assert not re.search(r"\d\.\d", text), re.findall(r".{20}\d\.\d.{20}", text)  # no decimal points
    for english in ("linear", "extrapolation", "forecast", "statistics", "confidence", "None", "null"):
        assert english not in text, english


def _visible_text(page: str) -> str:
    from html.parser import HTMLParser

    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.parts: list[str] = []
            self.skip = 0

        def handle_starttag(self, tag: str, attrs: object) -> None:
            self.skip += tag in ("style", "script")

        def handle_endtag(self, tag: str) -> None:
            self.skip -= tag in ("style", "script")

        def handle_data(self, data: str) -> None:
            if not self.skip:
                self.parts.append(data)

    parser = Text()
    parser.feed(page)
    return " ".join(parser.parts)


async def test_llm_failure_falls_back_to_statistics() -> None:
    class DownLLM:
        model = "down"

        async def complete(
            self, schema: type[SchemaT], system: str, user: str, prompt_version: str
        ) -> tuple[SchemaT | None, LLMCallInfo]:
            return None, LLMCallInfo(self.model, prompt_version, 3, 5.0, error="RateLimitError")

    prev, cur = two_weeks()
    r = await build_report(WEEK, cur, prev, [], DownLLM(), DEFAULT_CONFIG)
    assert r.report_metadata["themes_source"] == "statistics"
    assert r.report_metadata["llm"]["error"] == "RateLimitError"
    assert r.negative_issues and all(t["source"] == "statistics" for t in r.negative_issues)


# ---------------------------------------------------------------------- every field of one report, worked out by hand


def _week() -> tuple[list[CallRecord], list[CallRecord]]:
    kö, personal = item("Kassa", "kö och väntetid"), item("Kassa", "personal och bemötande", "positive")
    cur = (
        # A call that names the same issue twice still counts once per theme (but twice as a mention).
        [CallRecord(0.8, 10.0, False, [kö, kö, personal]) for _ in range(3)]
        + [
            CallRecord(0.5, 4.0, False, [item(None, "parkering"), item("Bageri", "pris", "neutral")])
            for _ in range(2)
        ]
        + [CallRecord(0.2, 2.0, False, [item("Mejeri", "renlighet och ordning")])]
        + [CallRecord(0.1, 2.0, True, [item("Mejeri", "renlighet och ordning")])]
    )
    prev = [CallRecord(0.5, 5.0, False, [kö]) for _ in range(2)] + [CallRecord(0.9, 12.0, False, [personal])]
    return cur, prev


def _theme_row(
    title: str, topic: str, dep: str | None, sentiment: str, n: int, share: float, before: int
) -> dict[str, Any]:
    return {
        "title": title,
        "topic": topic,
        "department": dep,
        "sentiment": sentiment,
        "calls": n,
        "share": share,
        "source": "statistics",
        "previous_week_calls": before,
    }


async def test_every_field_of_a_statistics_report() -> None:
    cur, prev = _week()
    r = await build_report(
        WEEK, cur, prev, [], None, DEFAULT_CONFIG, departments=["Frukt", "Kassa"], invalid_items=2
    )
    assert r.analysis_week == WEEK and r.total_feedback_count == 7
    assert r.average_quality_score == 0.6  # (0.8·3 + 0.5·2 + 0.2) / 6 honest calls
    kö = _theme_row("kö och väntetid (Kassa)", "kö och väntetid", "Kassa", "negative", 3, 0.5, 2)
    parkering = _theme_row("parkering", "parkering", None, "negative", 2, 0.333, 0)
    assert r.positive_trends == [
        _theme_row("personal och bemötande (Kassa)", "personal och bemötande", "Kassa", "positive", 3, 0.5, 1)
    ]
    # Neutral items are no theme; one honest call (the fraudulent one does not count) is below two.
    assert r.negative_issues == [kö, parkering]
    assert r.new_issues == [parkering]  # the queue was an issue last week already
    assert r.actionable_recommendations == [
        {
            "action": "Se över bemanningen i kassan vid rusningstid.",
            "department": "Kassa",
            "priority": "high",
            "rationale": "3 samtal tog upp kö och väntetid.",
            "source": "statistics",
        },
        {
            "action": "Följ upp kundens synpunkt.",
            "department": None,
            "priority": "high",
            "rationale": "2 samtal tog upp parkering.",
            "source": "statistics",
        },
    ]
    assert r.historical_comparison == {
        "current_week": {
            "week": "2026-11-16",
            "feedback_count": 7,
            "average_quality": 0.6,
            "fraudulent": 1,
            "fraud_rate": 0.143,
            "average_reward": 6.67,
        },
        "previous_week": {
            "week": "2026-11-09",
            "feedback_count": 3,
            "average_quality": 0.63,
            "fraudulent": 0,
            "fraud_rate": 0.0,
            "average_reward": 7.33,
        },
        "change": {
            "feedback_count": 4,
            "feedback_count_pct": 133.3,
            "average_quality": -0.03,
            "fraud_rate": 0.143,
            "average_reward": -0.66,
        },
        "weeks": [{"week": "2026-11-16", "feedback_count": 7, "average_quality": 0.6}],
    }
    assert r.department_insights == [
        {
            "department": "Kassa",
            "calls": 3,
            "positive_mentions": 3,
            "negative_mentions": 6,
            "average_quality": 0.8,
            "top_issue": "kö och väntetid",
            "previous_week_calls": 3,
            "change": 0,
        },
        {
            "department": "Bageri",
            "calls": 2,
            "positive_mentions": 0,
            "negative_mentions": 0,
            "average_quality": 0.5,
            "top_issue": None,
            "previous_week_calls": 0,
            "change": 2,
        },
        {
            "department": "Mejeri",
            "calls": 1,
            "positive_mentions": 0,
            "negative_mentions": 1,
            "average_quality": 0.2,
            "top_issue": "renlighet och ordning",
            "previous_week_calls": 0,
            "change": 1,
        },
        {
            "department": "Frukt",
            "calls": 0,
            "positive_mentions": 0,
            "negative_mentions": 0,
            "average_quality": None,
            "top_issue": None,
            "previous_week_calls": 0,
            "change": 0,
        },
    ]
    growing = [
        (p["issue"], p["forecast_next_week"])
        for p in r.predictive_insights
        if p["metric"] == "issue_mentions"
    ]
    assert growing == [("Parkering", 4), ("Kö och väntetid (Kassa)", 4)]
    meta = dict(r.report_metadata)
    assert isinstance(meta.pop("build_ms"), float)
    assert meta == {
        "themes_source": "statistics",
        "prompt_version": THEMES_PROMPT_VERSION,
        "model": None,
        "llm": None,
        "calls_considered": 7,
        "fraudulent_excluded": 1,
        "invalid_items_skipped": 2,
        "min_theme_mentions": 2,
    }


async def test_thresholds_caps_and_priorities_come_from_the_config() -> None:
    cur = [CallRecord(0.5, 5.0, False, [item("Kassa", f"t{i % 3}")]) for i in range(9)]
    cur += [CallRecord(0.5, 5.0, False, [item("Kassa", "t9")]) for _ in range(2)]
    cur += [CallRecord(0.5, 5.0, False, []) for _ in range(9)]  # 20 honest calls
    r = await build_report(WEEK, cur, [], [], None, DEFAULT_CONFIG)
    # Ties in calls are ordered by key; a share of exactly a tenth is a high priority.
    assert [(t["topic"], t["calls"], t["share"]) for t in r.negative_issues] == [
        ("t0", 3, 0.15),
        ("t1", 3, 0.15),
        ("t2", 3, 0.15),
        ("t9", 2, 0.1),
    ]
    assert [rec["priority"] for rec in r.actionable_recommendations] == ["high"] * 4
    more = [*cur, CallRecord(0.5, 5.0, False, [])]  # 2 of 21 is below a tenth
    r = await build_report(WEEK, more, [], [], None, DEFAULT_CONFIG)
    assert r.actionable_recommendations[-1]["priority"] == "medium"
    strict = dataclasses.replace(
        DEFAULT_CONFIG,
        report=dataclasses.replace(
            DEFAULT_CONFIG.report, min_theme_mentions=3, max_themes=2, new_issue_min_mentions=4
        ),
    )
    r = await build_report(WEEK, cur, [], [], None, strict)
    assert [t["topic"] for t in r.negative_issues] == ["t0", "t1"]
    assert r.new_issues == [] and r.report_metadata["min_theme_mentions"] == 3
    # At most five recommendations.
    many = [CallRecord(0.5, 5.0, False, [item("Kassa", f"t{i % 7}")]) for i in range(14)]
    r = await build_report(WEEK, many, [], [], None, DEFAULT_CONFIG)
    assert len(r.negative_issues) == 7 and len(r.actionable_recommendations) == 5


async def test_llm_themes_are_grounded_ordered_and_capped() -> None:
    cur, prev = _week()
    llm = ThemesLLM(
        {
            "positive_trends": [
                {
                    "title": "Trevlig kassa",
                    "topic": "personal och bemötande",
                    "department": "Kassa",
                    "sentiment": "positive",
                    "evidence_calls": 9,
                }
            ],
            "negative_issues": [
                {
                    "title": "Svårt att parkera",
                    "topic": "parkering",
                    "department": None,
                    "sentiment": "negative",
                    "evidence_calls": 9,
                },
                {
                    "title": "Smutsigt",
                    "topic": "renlighet och ordning",
                    "department": "Mejeri",
                    "sentiment": "negative",
                    "evidence_calls": 9,
                },
            ],
            "recommendations": [
                {"action": f"Gör {i}", "department": dep, "priority": "low", "rationale": "r"}
                for i, dep in enumerate(["Kassa", "Garage", None, "Kassa", "Kassa", "Kassa"])
            ],
        }
    )
    r = await build_report(WEEK, cur, prev, [], llm, DEFAULT_CONFIG)
    # The model's own title with the counted number; a counted theme it left out comes from the statistics.
    assert [(t["title"], t["calls"], t["source"], t["previous_week_calls"]) for t in r.negative_issues] == [
        ("kö och väntetid (Kassa)", 3, "statistics", 2),
        ("Svårt att parkera", 2, "llm", 0),
    ]
    assert [(t["title"], t["share"], t["source"]) for t in r.positive_trends] == [
        ("Trevlig kassa", 0.5, "llm")
    ]
    # Departments the statistics do not know are dropped from a recommendation; at most five.
    assert [(rec["action"], rec["department"], rec["source"]) for rec in r.actionable_recommendations] == [
        ("Gör 0", "Kassa", "llm"),
        ("Gör 1", None, "llm"),
        ("Gör 2", None, "llm"),
        ("Gör 3", "Kassa", "llm"),
        ("Gör 4", "Kassa", "llm"),
    ]
    assert r.actionable_recommendations[0] == {
        "action": "Gör 0",
        "department": "Kassa",
        "priority": "low",
        "rationale": "r",
        "source": "llm",
    }
    meta = r.report_metadata
    assert (meta["themes_source"], meta["model"]) == ("llm+statistics", "fake")
    assert meta["llm"] == {
        "model": "fake",
        "prompt_version": THEMES_PROMPT_VERSION,
        "attempts": 1,
        "latency_ms": 1.0,
        "usage": None,
        "error": None,
    }
    (prompt,) = llm.prompts
    mark, _, body = prompt.partition("\n")
    assert mark == STATS_MARK
    assert json.loads(body) == {
        "week": "2026-11-16",
        "calls": 6,
        "mentions": [
            {"department": "Kassa", "topic": "kö och väntetid", "sentiment": "negative", "calls": 3},
            {"department": "Kassa", "topic": "personal och bemötande", "sentiment": "positive", "calls": 3},
            {"department": None, "topic": "parkering", "sentiment": "negative", "calls": 2},
        ],
    }
    assert "ö" in prompt  # not escaped to \u00f6


async def test_no_model_call_without_a_counted_theme() -> None:
    llm = ThemesLLM({"positive_trends": [], "negative_issues": [], "recommendations": []})
    few = [CallRecord(0.5, 5.0, False, [item("Kassa", "kö och väntetid")])]
    r = await build_report(WEEK, few, [], [], llm, DEFAULT_CONFIG)
    assert llm.prompts == [] and r.report_metadata["themes_source"] == "statistics"
    assert r.report_metadata["model"] == "fake" and r.report_metadata["llm"] is None


async def test_an_empty_model_answer_keeps_the_statistics_themes_and_recommendations() -> None:
    cur, prev = _week()
    llm = ThemesLLM({"positive_trends": [], "negative_issues": [], "recommendations": []})
    r = await build_report(WEEK, cur, prev, [], llm, DEFAULT_CONFIG)
    assert r.report_metadata["themes_source"] == "llm+statistics"
    assert [t["source"] for t in r.negative_issues] == ["statistics", "statistics"]
    assert [rec["source"] for rec in r.actionable_recommendations] == ["statistics", "statistics"]


def test_week_over_week_without_a_previous_week() -> None:
    async def build() -> Any:
        return await build_report(WEEK, [CallRecord(0.5, 5.0, False, [])], [], [], None, DEFAULT_CONFIG)

    import asyncio

    r = asyncio.run(build())
    assert r.historical_comparison["change"] == {
        "feedback_count": 1,
        "feedback_count_pct": None,
        "average_quality": None,
        "fraud_rate": 0.0,
        "average_reward": None,
    }
    assert r.historical_comparison["previous_week"] == {
        "week": "2026-11-09",
        "feedback_count": 0,
        "average_quality": None,
        "fraudulent": 0,
        "fraud_rate": 0.0,
        "average_reward": None,
    }


def test_dense_series_fills_gaps_and_starts_at_the_first_week_with_calls() -> None:
    now = WeekPoint(WEEK, 9, 0.6)
    w = [WEEK - dt.timedelta(days=7 * i) for i in range(6)]  # w[0] is this week
    points = [
        WeekPoint(w[4], 3, 0.5),
        WeekPoint(w[2], 2, 0.4),
        WeekPoint(WEEK, 99, 0.1),
        WeekPoint(WEEK + dt.timedelta(days=7), 1, 0.1),
    ]
    assert dense_series(points, now, 12) == [
        WeekPoint(w[4], 3, 0.5),
        WeekPoint(w[3], 0, None),
        WeekPoint(w[2], 2, 0.4),
        WeekPoint(w[1], 0, None),
        now,
    ]
    # Three weeks back at most: the oldest point is outside the window, the series starts at w[2].
    assert dense_series(points, now, 3) == [WeekPoint(w[2], 2, 0.4), WeekPoint(w[1], 0, None), now]
    assert dense_series(points, now, 5)[0] == WeekPoint(w[4], 3, 0.5)  # w[4] is the fifth week back
    assert dense_series(points, now, 4)[0] == WeekPoint(w[2], 2, 0.4)
    assert dense_series([], now, 12) == [now]


def test_growing_issues_are_the_three_that_grew_most() -> None:
    deltas: dict[Key, tuple[int, int]] = {
        ("Kassa", "kö", "negative"): (5, 1),
        (None, "pris", "negative"): (3, 0),
        ("Bageri", "bröd", "negative"): (4, 4),
        ("Mejeri", "mjölk", "negative"): (2, 5),
        ("Chark", "kött", "negative"): (3, 0),
        ("Frukt", "äpplen", "negative"): (9, 8),
    }
    got = [
        p for p in predictive_insights([WeekPoint(WEEK, 1, 0.5)], deltas) if p["metric"] == "issue_mentions"
    ]
    # Ties in growth are ordered by key (so a rebuild gives the same list).
    assert [(p["issue"], p["forecast_next_week"]) for p in got] == [
        ("Kö (Kassa)", 9),
        ("Kött (Chark)", 6),
        ("Pris", 6),
    ]
    flat = {("Bageri", "bröd", "negative"): (4, 4), ("Mejeri", "mjölk", "negative"): (2, 5)}
    assert [p["metric"] for p in predictive_insights([WeekPoint(WEEK, 1, 0.5)], flat)] == ["average_quality"]


def test_call_record_reads_stored_columns() -> None:
    rec, bad = call_record(0.5, 5.0, True, {"topic": "kö"})
    assert rec == CallRecord(0.5, 5.0, True, []) and bad == 0
    good = {"topic": "kö", "sentiment": "negative", "suggestion": "x", "department": "Kassa"}
    rec, bad = call_record(0.7, 3.0, False, [{"topic": 3}, good, {**good, "extra": 1}])
    assert rec == CallRecord(0.7, 3.0, False, [ActionableItem("kö", "negative", "x", "Kassa")]) and bad == 2
    assert [monday_of(WEEK + dt.timedelta(days=d)) for d in range(7)] == [WEEK] * 7
    assert monday_of(WEEK - dt.timedelta(days=1)) == PREV


def test_mentions_count_each_honest_call_once_per_theme() -> None:
    kö = item("Kassa", "kö")
    counts = mention_counts(
        [
            CallRecord(
                0.5, 5.0, False, [kö, kö, item("Kassa", "kö", "positive"), item(None, "x", "neutral")]
            ),
            CallRecord(0.5, 5.0, True, [kö]),
            CallRecord(0.5, 5.0, False, [kö]),
        ]
    )
    assert counts == {("Kassa", "kö", "negative"): 2, ("Kassa", "kö", "positive"): 1}


async def test_the_model_gets_the_system_prompt_and_at_most_forty_mentions() -> None:
    cur = [CallRecord(0.5, 5.0, False, [item("Kassa", f"t{i:02d}")]) for i in range(45) for _ in range(2)]
    llm = ThemesLLM({"positive_trends": [], "negative_issues": [], "recommendations": []})
    r = await build_report(WEEK, cur, [], [], llm, DEFAULT_CONFIG)
    assert llm.systems == [THEMES_SYSTEM]
    mentions = json.loads(llm.prompts[0].partition("\n")[2])["mentions"]
    assert [m["topic"] for m in mentions] == [f"t{i:02d}" for i in range(40)]
    assert r.report_metadata["invalid_items_skipped"] == 0  # none said


async def test_ties_are_ordered_by_key_not_by_arrival() -> None:
    cur = [CallRecord(0.5, 5.0, False, [item("Kassa", t)]) for t in ("c", "a", "b") for _ in range(2)]
    r = await build_report(WEEK, cur, [], [], None, DEFAULT_CONFIG)
    assert [t["topic"] for t in r.negative_issues] == ["a", "b", "c"]


async def test_positive_trends_are_ordered_by_calls_whatever_the_model_said() -> None:
    cur = [CallRecord(0.5, 5.0, False, [item("Bageri", "bröd", "positive")]) for _ in range(2)]
    cur += [CallRecord(0.5, 5.0, False, [item("Kassa", "kö", "positive")]) for _ in range(4)]
    trend = {"department": "Bageri", "topic": "bröd", "sentiment": "positive", "evidence_calls": 2}
    llm = ThemesLLM(
        {"positive_trends": [{**trend, "title": "Gott bröd"}], "negative_issues": [], "recommendations": []}
    )
    r = await build_report(WEEK, cur, [], [], llm, DEFAULT_CONFIG)
    assert [(t["title"], t["calls"]) for t in r.positive_trends] == [("kö (Kassa)", 4), ("Gott bröd", 2)]


async def test_an_issue_is_new_unless_it_was_a_complaint_last_week() -> None:
    this_week = [CallRecord(0.5, 5.0, False, [item("Kassa", "kö")]) for _ in range(2)]
    praised = [CallRecord(0.5, 5.0, False, [item("Kassa", "kö", "positive")]) for _ in range(3)]
    once = [CallRecord(0.5, 5.0, False, [item("Kassa", "kö")])]
    r = await build_report(WEEK, this_week, praised, [], None, DEFAULT_CONFIG)
    assert [t["topic"] for t in r.new_issues] == ["kö"]  # praise last week is no complaint
    r = await build_report(WEEK, this_week, once, [], None, DEFAULT_CONFIG)
    assert r.new_issues == []  # one complaint last week is enough


async def test_department_insights_count_every_item_of_a_call() -> None:
    calls_ = [
        CallRecord(0.5, 5.0, False, [item(None, "parkering"), item("Kassa", "kö"), item("Kassa", "pris")]),
        CallRecord(0.7, 5.0, False, [item("Kassa", "pris")]),
    ]
    r = await build_report(WEEK, calls_, [], [], None, DEFAULT_CONFIG)
    (kassa,) = r.department_insights
    assert (kassa["department"], kassa["calls"], kassa["negative_mentions"], kassa["top_issue"]) == (
        "Kassa",
        2,
        3,
        "pris",  # twice against once: the first seen is not the top
    )
    assert kassa["average_quality"] == 0.6


async def test_a_fraudulent_call_is_skipped_not_the_end_of_the_week() -> None:
    calls_ = [
        CallRecord(0.1, 2.0, True, [item("Kassa", "kö")]),
        CallRecord(0.8, 5.0, False, [item("Kassa", "kö")]),
    ]
    r = await build_report(WEEK, calls_, [], [], None, DEFAULT_CONFIG)
    (kassa,) = r.department_insights
    assert (kassa["calls"], kassa["negative_mentions"], kassa["average_quality"]) == (1, 1, 0.8)
