"""``callengine demo`` (placeholder until the demo issue lands).

Today it does the honest part only: starts the embedded PostgreSQL (or uses
DATABASE_URL), migrates it, and says where it is. The end-to-end demo (calls
against the emulators) comes with the demo issue.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("demo", help="set up the local database (the full demo comes later)")
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from engine.config import Settings
    from engine.errors import CallEngineError

    settings = Settings.from_env()
    try:
        return asyncio.run(_run(settings))
    except CallEngineError as exc:
        print(f"error: {exc}")
        return 1


async def _run(settings: Any) -> int:
    from storage import Database, migrate

    db = await Database.open(settings)
    try:
        where = (
            f"embedded PostgreSQL in {db.embedded_pgdata}"
            if db.embedded_pgdata is not None
            else "the server at DATABASE_URL"
        )
        revision = await asyncio.to_thread(migrate.current, db.owner_url)
    finally:
        await db.close()
    print(f"Database ready: {where} (schema revision {revision}).")
    print(
        "The full demo (simulated calls through the engine) is not built yet; it comes with the demo issue."
    )
    return 0
