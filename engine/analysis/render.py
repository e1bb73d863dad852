"""The weekly report for people: one self-contained, printable HTML page in Swedish.

Input is the weekly_analysis_reports row as builtins — from the repository
(``msgspec.to_builtins``) or from the API (``MessageToDict``, where every JSON
number is a float) — so every figure goes through :mod:`engine.analysis.sv`:
"3", not "3.0"; "37,5 %", not "0.375". The page prints on A4 (``@page``, no
breaks inside a section), and its charts are inline SVG (:mod:`engine.analysis.charts`).
"""

from __future__ import annotations

import datetime as dt
import html
import zoneinfo
from collections.abc import Sequence
from typing import Any

from engine.analysis import charts, sv

PRIORITY = {"high": "hög", "medium": "medel", "low": "låg"}
CSS = """
:root{--ink:#1d1d1f;--muted:#5f6368;--line:#d9d9d9;--good:#1e7b34;--bad:#b3261e;--new:#fff4ce;--newline:#e0a800}
*{box-sizing:border-box;-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{font-family:"Segoe UI",system-ui,-apple-system,"Helvetica Neue",Arial,sans-serif;color:var(--ink);
max-width:960px;margin:2rem auto;padding:0 1.25rem;line-height:1.45;font-size:15px}
header{border-bottom:3px solid var(--ink);margin-bottom:1.25rem;padding-bottom:.5rem}
.kicker{text-transform:uppercase;letter-spacing:.08em;color:var(--muted);margin:0;font-size:.8rem}
h1{margin:.1rem 0;font-size:1.9rem}h2{font-size:1.2rem;margin:1.6rem 0 .6rem}
.period{margin:0;color:var(--muted)}
.kpis{display:grid;grid-template-columns:repeat(4,1fr);gap:.75rem}
.kpi{border:1px solid var(--line);border-radius:6px;padding:.6rem .8rem}
.kpi .label{color:var(--muted);font-size:.85rem}.kpi .value{font-size:1.7rem;font-weight:700;display:block}
.kpi .delta{font-size:.85rem}.better{color:var(--good)}.worse{color:var(--bad)}.neutral{color:var(--muted)}
.callout{background:var(--new);border-left:6px solid var(--newline);padding:.6rem 1rem;border-radius:4px}
.callout h2{margin-top:.2rem}.callout ul{margin:.2rem 0 .4rem 1.1rem;padding:0}
.quiet{color:var(--muted)}
.badge{display:inline-block;background:var(--newline);color:#000;font-size:.7rem;font-weight:700;
padding:0 .35rem;border-radius:3px;margin-left:.35rem;vertical-align:middle}
tr.is-new td{background:var(--new)}
table{border-collapse:collapse;width:100%;margin:.3rem 0 1rem;font-size:.92rem}
th,td{border-bottom:1px solid var(--line);padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3;font-weight:600}td.num,th.num{text-align:right;white-space:nowrap}
.charts{display:grid;grid-template-columns:1fr;gap:.6rem}.charts figure{margin:0}
.charts figcaption{font-size:.85rem}
.forecast{border:1px solid var(--line);border-radius:6px;padding:.5rem .8rem;margin:.5rem 0}
.forecast p{margin:.15rem 0}.forecast .sure{color:var(--muted);font-size:.9rem}
footer{margin-top:2rem;border-top:1px solid var(--line);padding-top:.6rem;color:var(--muted);font-size:.85rem}
@page{size:A4;margin:14mm 12mm}
@media print{body{max-width:none;margin:0;padding:0;font-size:10.5pt}
section:not(.charts),figure,table,.forecast,.kpis{break-inside:avoid}h2{break-after:avoid}
.kpi .delta{display:block}}
@media (max-width:700px){.kpis{grid-template-columns:1fr 1fr}}
"""


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _cap(text: Any) -> str:
    s = "" if text is None else str(text)
    return s[:1].upper() + s[1:]


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _delta(value: Any, places: int, unit: str, good_when: str) -> str:
    """An arrow and a signed change, coloured by whether the change is good for the store."""
    v = _num(value)
    if v is None:
        return '<span class="delta neutral">ingen jämförelse</span>'
    arrow = sv.arrow(v, places)
    tone = "neutral"
    if arrow in (sv.UP, sv.DOWN) and good_when != "either":
        tone = "better" if (arrow == sv.UP) == (good_when == "up") else "worse"
    return f'<span class="delta {tone}">{arrow}{sv.NBSP}{_esc(sv.signed(v, places, unit))} mot förra veckan</span>'


def _kpis(hist: dict[str, Any], total: Any) -> str:
    cur, prev, change = (
        hist.get("current_week") or {},
        hist.get("previous_week") or {},
        hist.get("change") or {},
    )
    compare = bool(_num(prev.get("feedback_count")))

    def pp(name: str) -> float | None:  # a change in a share, in percentage points
        v = _num(change.get(name))
        return None if v is None else v * 100

    cards = [
        ("Samtal", sv.integer(_num(total)), _delta(change.get("feedback_count"), 0, "", "either")),
        (
            "Snittkvalitet (0–1)",
            sv.number(_num(cur.get("average_quality")), 2),
            _delta(change.get("average_quality"), 2, "", "up"),
        ),
        (
            "Misstänkt fusk",
            sv.percent(_num(cur.get("fraud_rate"))),
            _delta(pp("fraud_rate"), 1, "procentenheter", "down"),
        ),
        (
            "Snittbelöning",
            sv.percent_value(_num(cur.get("average_reward"))),
            _delta(change.get("average_reward"), 2, "procentenheter", "either"),
        ),
    ]
    if not compare:
        cards = [
            (label, value, '<span class="delta neutral">inga samtal förra veckan</span>')
            for label, value, _ in cards
        ]
    body = "".join(
        f'<div class="kpi"><span class="label">{_esc(label)}</span><span class="value">{_esc(value)}</span>{delta}</div>'
        for label, value, delta in cards
    )
    return f'<section class="kpis" aria-label="Nyckeltal">{body}</section>'


def _theme_label(t: dict[str, Any]) -> str:
    dep = t.get("department")
    return f"{_cap(t.get('topic') or t.get('title'))}" + (f" ({_cap(dep)})" if dep else "")


def _theme_title(t: dict[str, Any]) -> str:
    """The theme's title without the department the next column shows anyway."""
    title, dep = str(t.get("title") or t.get("topic") or ""), t.get("department")
    return _cap(title.removesuffix(f" ({dep})") if dep else title)


def _new_issues(items: Sequence[dict[str, Any]]) -> str:
    if not items:
        return '<section class="callout-none"><h2>Nytt denna vecka</h2><p class="quiet">Inga nya problem denna vecka.</p></section>'
    rows = "".join(
        f"<li><strong>{_esc(_theme_label(t))}</strong> – {_esc(sv.calls(_num(t.get('calls')) or 0))}, "
        f"{_esc(sv.percent(_num(t.get('share'))))} av samtalen. Togs inte upp förra veckan.</li>"
        for t in items
    )
    return f'<section class="callout" id="nya-problem"><h2>Nytt denna vecka</h2><ul>{rows}</ul></section>'


def _themes(items: Sequence[dict[str, Any]], new_keys: set[tuple[Any, Any]]) -> str:
    if not items:
        return '<p class="quiet">Inga som togs upp av tillräckligt många kunder.</p>'
    rows = []
    for t in items:
        is_new = (t.get("department"), t.get("topic")) in new_keys
        calls_now = _num(t.get("calls")) or 0
        before = _num(t.get("previous_week_calls"))
        change = "–" if before is None else f"{sv.arrow(calls_now - before)} {sv.signed(calls_now - before)}"
        badge = '<span class="badge">Ny</span>' if is_new else ""
        row_class = ' class="is-new"' if is_new else ""
        rows.append(
            f"<tr{row_class}><td>{_esc(_theme_title(t))}{badge}</td>"
            f'<td>{_esc(_cap(t.get("department")) or "–")}</td><td class="num">{_esc(sv.integer(calls_now))}</td>'
            f'<td class="num">{_esc(sv.percent(_num(t.get("share"))))}</td><td class="num">{_esc(change)}</td></tr>'
        )
    head = (
        '<tr><th>Tema</th><th>Avdelning</th><th class="num">Samtal</th><th class="num">Andel av samtalen</th>'
        '<th class="num">Mot förra veckan</th></tr>'
    )
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _departments(items: Sequence[dict[str, Any]]) -> str:
    if not items:
        return '<p class="quiet">Inga avdelningar nämndes.</p>'
    rows = "".join(
        f'<tr><td>{_esc(_cap(d.get("department")))}</td><td class="num">{_esc(sv.integer(_num(d.get("calls"))))}</td>'
        f'<td class="num">{_esc(sv.integer(_num(d.get("positive_mentions"))))}</td>'
        f'<td class="num">{_esc(sv.integer(_num(d.get("negative_mentions"))))}</td>'
        f"<td>{_esc(_cap(d.get('top_issue')) or '–')}</td>"
        f'<td class="num">{_esc(sv.arrow(_num(d.get("change"))))} {_esc(sv.signed(_num(d.get("change"))))}</td></tr>'
        for d in items
    )
    head = (
        '<tr><th>Avdelning</th><th class="num">Samtal</th><th class="num">Positiva</th>'
        '<th class="num">Negativa</th><th>Vanligaste problemet</th><th class="num">Samtal mot förra veckan</th></tr>'
    )
    return f"<table><thead>{head}</thead><tbody>{rows}</tbody></table>"


def _forecasts(items: Sequence[dict[str, Any]]) -> str:
    if not items:
        return '<p class="quiet">Inga prognoser.</p>'
    out = []
    for p in items:
        sure = p.get("confidence_text") or (
            ""
            if p.get("forecast_next_week") is None
            else f"Säkerhet: {sv.confidence_word(_num(p.get('confidence')))}."
        )
        out.append(
            f'<div class="forecast"><p>{_esc(p.get("statement"))}</p>'
            + (f'<p class="sure">{_esc(sure)}</p>' if sure else "")
            + "</div>"
        )
    return "".join(out)


def _recommendations(items: Sequence[dict[str, Any]]) -> str:
    if not items:
        return '<p class="quiet">Inga rekommendationer denna vecka.</p>'
    rows = "".join(
        f"<tr><td>{_esc(r.get('action'))}</td><td>{_esc(_cap(r.get('department')) or '–')}</td>"
        f"<td>{_esc(PRIORITY.get(str(r.get('priority')), r.get('priority')))}</td><td>{_esc(r.get('rationale'))}</td></tr>"
        for r in items
    )
    head = "<tr><th>Åtgärd</th><th>Avdelning</th><th>Prioritet</th><th>Varför</th></tr>"
    return f"<table><thead>{head}</thead><tbody>{rows}</tbody></table>"


def _charts(
    hist: dict[str, Any], predictions: Sequence[dict[str, Any]], deps: Sequence[dict[str, Any]]
) -> str:
    weeks = hist.get("weeks") or []
    quality = [(sv.week_short(w.get("week")), _num(w.get("average_quality"))) for w in weeks]
    counts = [(sv.week_short(w.get("week")), int(_num(w.get("feedback_count")) or 0)) for w in weeks]
    nxt = next((p for p in predictions if p.get("metric") == "average_quality"), None)
    forecast = None
    if nxt and _num(nxt.get("forecast_next_week")) is not None and nxt.get("week"):
        forecast = (sv.week_short(nxt["week"]) + "*", float(nxt["forecast_next_week"]))
    bars = sorted(
        ((_cap(d.get("department")), int(_num(d.get("negative_mentions")) or 0)) for d in deps),
        key=lambda b: -b[1],
    )
    span = sv.last_weeks(len(weeks)) if len(weeks) != 1 else "denna vecka"
    note = '<figcaption class="quiet">* prognos för nästa vecka (streckad)</figcaption>' if forecast else ""
    return (
        '<section class="charts">'
        f"<figure>{charts.quality_chart(quality, f'Snittkvalitet per vecka, {span}', forecast)}{note}</figure>"
        f"<figure>{charts.count_chart(counts, f'Antal samtal per vecka, {span}')}</figure>"
        f"<figure>{charts.bar_chart(bars, 'Problem per avdelning (negativa omnämnanden)')}</figure>"
        "</section>"
    )


def _generated(report: dict[str, Any]) -> str:
    raw = report.get("generated_at")
    tz = (report.get("report_metadata") or {}).get("store_timezone") or "Europe/Stockholm"
    try:
        at = raw if isinstance(raw, dt.datetime) else dt.datetime.fromisoformat(str(raw))
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.UTC)
        local = at.astimezone(zoneinfo.ZoneInfo(tz))
    except (ValueError, TypeError, zoneinfo.ZoneInfoNotFoundError):
        return ""
    return f" Sammanställd {sv.date(local.date())} kl. {local:%H:%M}."


def render_html(report: dict[str, Any], store_name: str) -> str:
    """``report``: the weekly_analysis_reports columns as builtins (JSON fields decoded)."""
    hist = report.get("historical_comparison") or {}
    meta = report.get("report_metadata") or {}
    predictions = report.get("predictive_insights") or []
    new_items = report.get("new_issues") or []
    new_keys = {(t.get("department"), t.get("topic")) for t in new_items}
    total = report.get("total_feedback_count") or 0
    excluded = _num(meta.get("fraudulent_excluded")) or 0
    source = (
        "AI-sammanfattning kontrollerad mot statistiken"
        if meta.get("themes_source") == "llm+statistics"
        else "statistiken över samtalen"
    )
    basis = f"Underlag: {sv.calls(_num(total) or 0)} denna vecka"
    basis += f", varav {sv.integer(excluded)} räknades bort som misstänkt fusk." if excluded else "."
    week = report.get("analysis_week")
    return f"""<!doctype html>
<html lang="sv"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Veckorapport {_esc(store_name)}, {_esc(sv.week(week))}</title>
<style>{CSS}</style></head>
<body>
<header><p class="kicker">Veckorapport</p><h1>{_esc(store_name)}</h1>
<p class="period">{_esc(sv.week_span(week))}</p></header>
{_kpis(hist, total)}
{_new_issues(new_items)}
{_charts(hist, predictions, report.get("department_insights") or [])}
<section><h2>Problem som kunderna tog upp</h2>{_themes(report.get("negative_issues") or [], new_keys)}</section>
<section><h2>Det här uppskattade kunderna</h2>{_themes(report.get("positive_trends") or [], set())}</section>
<section><h2>Avdelningar</h2>{_departments(report.get("department_insights") or [])}</section>
<section><h2>Prognoser för nästa vecka</h2>{_forecasts(predictions)}</section>
<section><h2>Rekommendationer</h2>{_recommendations(report.get("actionable_recommendations") or [])}</section>
<footer>{_esc(basis)} Teman från {_esc(source)}.{_esc(_generated(report))}</footer>
</body></html>
"""
