"""Weekly reports as a store owner sees them: built from real PostgreSQL over three weeks, sent
through the API's message form, rendered by headless Chromium (DOM, screenshot and print to PDF)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from google.protobuf import json_format
from PIL import Image

from engine.analysis import service, sv
from engine.analysis.render import render_html
from engine.analysis.report import monday_of
from engine.analysis.report_source import weekly_series
from engine.api import convert
from storage import Database, Principal
from tests.fixtures.browser import Chromium
from tests.integration.analysis.conftest import Seeder
from tests.integration.analysis.test_service import NOW
from tests.unit.analysis.test_report import _visible_text

STOCKHOLM = ZoneInfo("Europe/Stockholm")
QUEUE = "Det var lång kö i kassan och bara en kassa öppen, det borde fixas."
DAIRY = "Mejeriet hade slut på mjölk och yoghurten saknades helt, det var dåligt."
GOOD = "Bageriet var fräscht och bröden var goda, personalen var trevlig."


async def _three_weeks(seeder: Seeder, database: Database, backdate: Any, store: uuid.UUID) -> dt.date:
    week = monday_of(NOW.date()) - dt.timedelta(days=7)
    plan = [
        (3, QUEUE, 3),
        (2, QUEUE, 2),
        (2, GOOD, 1),
        (1, QUEUE, 2),
        (1, GOOD, 2),
        (0, QUEUE, 2),
        (0, DAIRY, 3),
    ]
    plan += [(0, GOOD, 3)]
    for weeks_back, answer, n in plan:
        monday = week - dt.timedelta(days=7 * weeks_back)
        for i in range(n):
            at = dt.datetime.combine(monday + dt.timedelta(days=2), dt.time(12, i), dt.UTC)
            sid = await seeder.call(store, [answer, answer, answer], call_at=at)
            await service.assess_session(database, None, sid, now=at)
            backdate(sid, at + dt.timedelta(minutes=5))
    return week


async def test_report_renders_in_chromium_with_its_key_figures(
    database: Database, seeder: Seeder, backdate: Any, chromium: Chromium, tmp_path: Path
) -> None:
    store = await seeder.store()
    week = await _three_weeks(seeder, database, backdate, store)
    stored = await service.build_weekly_report(database, None, store, week, now=NOW)
    assert stored.total_feedback_count == 8
    # exactly what the demo does: the API message, as JSON (every number a float)
    data = json_format.MessageToDict(
        convert.weekly_report(stored),
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
    )
    page = tmp_path / "report.html"
    page.write_text(render_html(data, "Testbutiken Solna"), encoding="utf-8")

    text = _visible_text(chromium.dump_dom(page))
    assert "Testbutiken Solna" in text and sv.week_span(week) in text
    assert re.search(r"Samtal\s+8\s+▲\xa0\+4 mot förra veckan", text), text[:400]  # 8 calls against 4
    assert sv.number(stored.average_quality_score, 2) in text
    hist: dict[str, Any] = stored.historical_comparison  # type: ignore[assignment]
    assert [w["feedback_count"] for w in hist["weeks"]] == [3, 3, 4, 8]  # four weeks on the charts
    assert "Nytt denna vecka" in text and "Sortiment och tillgång (Mejeri)" in text
    assert (
        "Snittkvaliteten väntas hamna kring" in text and "Säkerhet:" in text
    )  # three weeks: a real forecast
    assert "Antalet samtal väntas bli omkring" in text
    assert not re.search(r"\d\.\d", text) and "None" not in text
    assert "%" in text and re.search(r"\d\xa0%", text)  # Swedish: a non-breaking space before %

    shot = tmp_path / "report.png"
    chromium.screenshot(page, shot, 1100, 2400)
    with Image.open(shot) as image:
        assert image.size == (1100, 2400)
        pixels = image.convert("RGB")
        colours = pixels.getcolors(maxcolors=1 << 20) or []
        by_colour = {c: n for n, c in colours}
    assert len(by_colour) > 50  # text, charts and tables were drawn, not a blank page
    assert by_colour.get((0x1F, 0x5F, 0xBF), 0) > 2000  # the blue of the trend charts
    assert by_colour.get((0xFF, 0xF4, 0xCE), 0) > 2000  # the highlighted new issue

    pdf = tmp_path / "report.pdf"
    chromium.pdf(page, pdf)
    body = pdf.read_bytes()
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", body))
    assert body.startswith(b"%PDF") and 1 <= pages <= 4, pages


async def test_weekly_series_counts_weeks_in_the_store_time_zone(
    database: Database, seeder: Seeder, backdate: Any
) -> None:
    """Monday 00:30 in Stockholm is Sunday 23:30 UTC: the call belongs to Monday's week."""
    store = await seeder.store()
    monday = monday_of(NOW.date()) - dt.timedelta(days=14)
    at = dt.datetime.combine(monday, dt.time(0, 30), STOCKHOLM).astimezone(dt.UTC)
    sid = await seeder.call(store, [GOOD, GOOD, GOOD], call_at=at)
    await service.assess_session(database, None, sid, now=at)
    backdate(sid, at)
    async with database.transaction(Principal.service()) as tx:
        series = await weekly_series(
            tx, store, "Europe/Stockholm", monday - dt.timedelta(days=7), monday + dt.timedelta(days=7)
        )
    assert [(p.week, p.count) for p in series] == [(monday, 1)]
