"""Weekly report building: statistics, grounding of LLM themes, new issues, week over week, rendering."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from engine.analysis.config import DEFAULT_CONFIG
from engine.analysis.llm import SchemaT
from engine.analysis.models import ActionableItem, LLMCallInfo
from engine.analysis.render import render_html
from engine.analysis.report import CallRecord, WeekPoint, build_report, call_record, monday_of
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

    async def complete(
        self, schema: type[SchemaT], system: str, user: str, prompt_version: str
    ) -> tuple[SchemaT | None, LLMCallInfo]:
        self.prompts.append(user)
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
