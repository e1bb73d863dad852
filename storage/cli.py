"""``callengine db upgrade|current|downgrade REV|cleanup [--dry-run]|rotate-keys``.

Works the same against the embedded server (no DATABASE_URL) and DATABASE_URL.
Heavy imports stay inside the handlers so ``callengine --help`` is fast.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


def register(subparsers: Any) -> None:
    db = subparsers.add_parser("db", help="database: migrations, retention cleanup, key rotation")
    sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    p = sub.add_parser("upgrade", help="migrate the schema to a revision (default: head)")
    p.add_argument("revision", nargs="?", default="head")
    p.set_defaults(func=_upgrade)
    p = sub.add_parser("current", help="show the schema revision")
    p.set_defaults(func=_current)
    p = sub.add_parser("downgrade", help="migrate down to a revision (e.g. -1, base)")
    p.add_argument("revision")
    p.set_defaults(func=_downgrade)
    p = sub.add_parser("cleanup", help="apply the retention rules now")
    p.add_argument("--dry-run", action="store_true", help="count what would change; change nothing")
    p.set_defaults(func=_cleanup)
    p = sub.add_parser("rotate-keys", help="re-encrypt every field under the active key")
    p.add_argument("--batch-size", type=int, default=1000)
    p.set_defaults(func=_rotate)


def _fail(exc: Exception) -> int:
    print(f"error: {exc}")
    return 1


@contextmanager
def _owner_url() -> Iterator[str]:
    from engine.config import Settings
    from storage import embedded

    settings = Settings.from_env()
    if settings.database.url:
        yield settings.database.url
        return
    pgdata = settings.database.data_dir / "pgdata"
    uri = embedded.acquire(pgdata)
    try:
        print(f"embedded PostgreSQL: {pgdata}")
        yield uri
    finally:
        embedded.release(pgdata)


def _guard(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from engine.errors import CallEngineError

        try:
            return fn(args)
        except CallEngineError as exc:
            return _fail(exc)

    return run


@_guard
def _upgrade(args: argparse.Namespace) -> int:
    from engine.config import Settings
    from storage import migrate

    password = Settings.from_env().database.app_password.get()
    with _owner_url() as url:
        migrate.upgrade(url, args.revision)
        print(f"schema at {migrate.current(url)}")
        if password:  # the runtime's login (callengine_app) logs in with it
            migrate.set_app_password(url, password)
            print("callengine_app: password set (CALLENGINE_DB_APP_PASSWORD)")
    return 0


@_guard
def _current(args: argparse.Namespace) -> int:
    from storage import migrate

    with _owner_url() as url:
        rev = migrate.current(url)
        head = migrate.head()
        print(f"{rev or '(empty)'}{' (head)' if rev == head else f' (head is {head})'}")
    return 0


@_guard
def _downgrade(args: argparse.Namespace) -> int:
    from storage import migrate

    with _owner_url() as url:
        migrate.downgrade(url, args.revision)
        print(f"schema at {migrate.current(url) or '(empty)'}")
    return 0


@_guard
def _cleanup(args: argparse.Namespace) -> int:

    from engine.config import Settings
    from storage import Database
    from storage.retention import cleanup

    async def main() -> int:
        db = await Database.open(Settings.from_env())
        try:
            report = await cleanup(db, db.clock.now(), dry_run=args.dry_run)
        finally:
            await db.close()
        verb = "would change" if report.dry_run else "changed"
        for table, n in report.counts.items():
            print(f"{table:40s} {n:8d}")
        print(f"{verb} {sum(report.counts.values())} rows")
        return 0

    return asyncio.run(main())


@_guard
def _rotate(args: argparse.Namespace) -> int:
    from engine.config import Settings
    from storage import Database
    from storage.rotation import rotate_keys

    if args.batch_size < 1:
        return _fail(ValueError("--batch-size must be >= 1"))

    def progress(column: str, done: int, total: int) -> None:
        print(f"{column}: {done}/{total}", flush=True)

    async def main() -> int:
        db = await Database.open(Settings.from_env())
        try:
            print(f"active key: {db.keyring.active_key_id}")
            done = await rotate_keys(db, args.batch_size, progress)
        finally:
            await db.close()
        print(f"re-encrypted {sum(done.values())} values")
        return 0

    return asyncio.run(main())
