"""The weekly report for people: one self-contained HTML file with inline SVG charts."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

W, H, PAD = 560, 220, 40


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def line_chart(points: Sequence[tuple[str, float | None]], title: str) -> str:
    """Quality over weeks (0..1 axis); missing weeks leave a gap."""
    n = max(1, len(points) - 1)
    xs = [PAD + i * (W - 2 * PAD) / n for i in range(len(points))]

    def y(v: float) -> float:
        return H - PAD - v * (H - 2 * PAD)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" role="img" aria-label="{_esc(title)}">'
    ]
    parts.append(f'<text x="{PAD}" y="18" font-size="13" font-weight="bold">{_esc(title)}</text>')
    for tick in (0.0, 0.5, 1.0):
        parts.append(f'<line x1="{PAD}" x2="{W - PAD}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#ddd"/>')
        parts.append(
            f'<text x="{PAD - 6}" y="{y(tick) + 4:.1f}" font-size="10" text-anchor="end">{tick:.1f}</text>'
        )
    segment: list[str] = []
    for x, (label, v) in zip(xs, points, strict=True):
        parts.append(
            f'<text x="{x:.1f}" y="{H - PAD + 16}" font-size="9" text-anchor="middle">{_esc(label[5:])}</text>'
        )
        if v is None:
            if len(segment) > 1:
                parts.append(
                    f'<polyline fill="none" stroke="#2a6fdb" stroke-width="2" points="{" ".join(segment)}"/>'
                )
            segment = []
            continue
        segment.append(f"{x:.1f},{y(v):.1f}")
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y(v):.1f}" r="3" fill="#2a6fdb"><title>{v:.2f}</title></circle>'
        )
    if len(segment) > 1:
        parts.append(
            f'<polyline fill="none" stroke="#2a6fdb" stroke-width="2" points="{" ".join(segment)}"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(bars: Sequence[tuple[str, int]], title: str) -> str:
    """Horizontal bars (e.g. negative mentions per department)."""
    rows = list(bars)[:10] or [("–", 0)]
    height = PAD + 22 * len(rows)
    top = max(1, max(v for _, v in rows))
    label_w = 150
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" role="img" aria-label="{_esc(title)}">'
    ]
    parts.append(f'<text x="4" y="18" font-size="13" font-weight="bold">{_esc(title)}</text>')
    for i, (label, value) in enumerate(rows):
        yy = 30 + i * 22
        width = (W - label_w - 50) * value / top
        parts.append(
            f'<text x="{label_w - 6}" y="{yy + 13}" font-size="11" text-anchor="end">{_esc(label)}</text>'
        )
        parts.append(f'<rect x="{label_w}" y="{yy}" width="{width:.1f}" height="16" fill="#d9534f"/>')
        parts.append(f'<text x="{label_w + width + 4:.1f}" y="{yy + 13}" font-size="11">{value}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    if not rows:
        return "<p><em>Inga.</em></p>"
    head = "".join(f"<th>{_esc(title)}</th>" for _, title in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_esc(r.get(key))}</td>" for key, _ in columns) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: dict[str, Any], store_name: str) -> str:
    """``report``: the weekly_analysis_reports columns as builtins (JSON fields decoded)."""
    hist = report.get("historical_comparison") or {}
    weeks = [(w["week"], w.get("average_quality")) for w in hist.get("weeks", [])]
    deps = [
        (d["department"], int(d.get("negative_mentions", 0))) for d in report.get("department_insights") or []
    ]
    deps.sort(key=lambda d: -d[1])
    change = hist.get("change", {})
    theme_cols = [("title", "Tema"), ("department", "Avdelning"), ("calls", "Samtal"), ("share", "Andel")]
    predictions = report.get("predictive_insights") or []
    avg = report.get("average_quality_score")
    return f"""<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><title>Veckorapport {_esc(store_name)} {_esc(report["analysis_week"])}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;width:100%;margin-bottom:1em}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}
th{{background:#f3f3f3}}.kpi{{display:inline-block;margin-right:2em}}.kpi b{{font-size:1.4em;display:block}}</style></head>
<body>
<h1>Veckorapport: {_esc(store_name)}</h1>
<p>Vecka från {_esc(report["analysis_week"])}</p>
<div><span class="kpi">Samtal<b>{_esc(report["total_feedback_count"])}</b></span>
<span class="kpi">Snittkvalitet<b>{_esc(f"{avg:.2f}" if avg is not None else "–")}</b></span>
<span class="kpi">Förändring mot förra veckan<b>{_esc(change.get("average_quality"))}</b></span></div>
{line_chart(weeks, "Kvalitet per vecka")}
{bar_chart(deps, "Problem per avdelning (negativa omnämnanden)")}
<h2>Positiva trender</h2>{_table(report.get("positive_trends") or [], theme_cols)}
<h2>Problem</h2>{_table(report.get("negative_issues") or [], theme_cols)}
<h2>Nya problem denna vecka</h2>{_table(report.get("new_issues") or [], theme_cols)}
<h2>Avdelningar</h2>{_table(report.get("department_insights") or [], [("department", "Avdelning"), ("calls", "Samtal"), ("positive_mentions", "Positiva"), ("negative_mentions", "Negativa"), ("top_issue", "Vanligaste problem"), ("change", "Förändring")])}
<h2>Prognoser</h2>{_table(predictions, [("statement", "Prognos"), ("confidence", "Säkerhet"), ("method", "Metod")])}
<h2>Rekommendationer</h2>{_table(report.get("actionable_recommendations") or [], [("action", "Åtgärd"), ("department", "Avdelning"), ("priority", "Prioritet"), ("rationale", "Motivering")])}
<p><small>Genererad {_esc(report.get("generated_at"))}; teman: {_esc((report.get("report_metadata") or {}).get("themes_source"))}.</small></p>
</body></html>
"""
