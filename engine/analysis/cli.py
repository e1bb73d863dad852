"""``callengine report --store ID --week YYYY-MM-DD [--out DIR]``: (re)build a weekly report and render it."""

from __future__ import annotations

import argparse
import datetime as dt
import uuid
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "report",
        help="build (or rebuild) a store's weekly report and write it as HTML",
        description="Builds the weekly analysis report of a store (idempotent: a rebuild replaces it) "
        "and writes a self-contained HTML page with charts.",
    )
    p.add_argument("--store", required=True, help="store id (UUID)")
    p.add_argument("--week", required=True, help="any date of the week (YYYY-MM-DD); its Monday is used")
    p.add_argument("--out", default=".", help="directory for the HTML file (default: current directory)")
    p.add_argument("--no-llm", action="store_true", help="themes from statistics only (no LLM call)")
    p.add_argument("--config", default=None, help="analysis TOML overrides (see docs/analysis.md)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import asyncio

    try:
        store_id = uuid.UUID(args.store)
    except ValueError:
        print(f"--store: not a UUID: {args.store!r}")
        return 2
    try:
        day = dt.date.fromisoformat(args.week)
    except ValueError:
        print(f"--week: not a date (YYYY-MM-DD): {args.week!r}")
        return 2
    result = asyncio.run(_report(store_id, day, use_llm=not args.no_llm, config_path=args.config))
    if result is None:
        return 1
    name, page = result
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    path.write_text(page, encoding="utf-8")
    print(path)
    return 0


async def _report(
    store_id: uuid.UUID, day: dt.date, *, use_llm: bool, config_path: str | None
) -> tuple[str, str] | None:
    """(file name, HTML) of the rebuilt report, or None after printing why it failed."""
    import msgspec

    from engine.analysis.config import DEFAULT_CONFIG, AnalysisConfig
    from engine.analysis.llm import llm_from_settings
    from engine.analysis.render import render_html
    from engine.analysis.report import monday_of
    from engine.analysis.service import build_weekly_report
    from engine.config import Settings
    from engine.errors import CallEngineError
    from storage import Database, Principal

    settings = Settings.from_env()
    config = AnalysisConfig.from_toml(config_path) if config_path else DEFAULT_CONFIG
    llm = llm_from_settings(settings.openai, config.llm) if use_llm else None
    week = monday_of(day)
    db = await Database.open(settings)
    try:
        report = await build_weekly_report(db, llm, store_id, week, config=config)
        async with db.transaction(Principal.service()) as tx:
            store = await tx.stores.get_store(store_id)
    except CallEngineError as exc:
        print(f"report failed: {exc}")
        return None
    finally:
        await db.close()
    print(
        f"week {week.isoformat()}: {report.total_feedback_count} calls, average {report.average_quality_score}"
    )
    return f"report-{store_id}-{week.isoformat()}.html", render_html(msgspec.to_builtins(report), store.name)
