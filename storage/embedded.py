"""Embedded PostgreSQL (the ``pgserver`` package): started on demand, shared, stopped cleanly.

One server per data directory per process, reference-counted: every
``Database`` that uses it acquires it and releases it on close. The server is
stopped when the last user releases it, and only if this process started it
(a server already running — from another process — is left alone).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine.errors import UnavailableError

log = logging.getLogger(__name__)


@dataclasses.dataclass
class _Handle:
    server: Any
    uri: str
    started_here: bool
    users: int = 0


_lock = threading.Lock()
_handles: dict[Path, _Handle] = {}


def _running(pgdata: Path) -> bool:
    from pgserver.utils import PostmasterInfo  # type: ignore[import-untyped]

    info = PostmasterInfo.read_from_pgdata(pgdata)
    return bool(info is not None and info.is_running())


def acquire(pgdata: Path) -> str:
    """Start (or reuse) the server in ``pgdata``; returns the superuser connection URI. Blocking."""
    pgdata = pgdata.expanduser().resolve()
    with _lock:
        handle = _handles.get(pgdata)
        if handle is None:
            import pgserver  # type: ignore[import-untyped]

            try:
                pgdata.parent.mkdir(parents=True, exist_ok=True)
                was_running = pgdata.exists() and _running(pgdata)
                server = pgserver.get_server(pgdata, cleanup_mode=None if was_running else "stop")
                handle = _Handle(server, server.get_uri(), started_here=not was_running)
            except Exception as exc:  # pgserver raises subprocess/OS errors of many kinds
                raise UnavailableError(f"embedded PostgreSQL in {pgdata} failed to start: {exc}") from exc
            _handles[pgdata] = handle
            log.info("embedded PostgreSQL ready in %s", pgdata)
        handle.users += 1
        return handle.uri


def release(pgdata: Path) -> None:
    """Drop one user; the last one stops the server if this process started it. Blocking."""
    pgdata = pgdata.expanduser().resolve()
    with _lock:
        handle = _handles.get(pgdata)
        if handle is None:
            return
        handle.users -= 1
        if handle.users > 0:
            return
        del _handles[pgdata]
        if handle.started_here:
            handle.server.cleanup()
            log.info("embedded PostgreSQL in %s stopped", pgdata)


@contextmanager
def held(pgdata: Path) -> Iterator[str]:
    """Keep the embedded server up for a block (yields the owner URI).

    For a driver that starts worker processes (Ray actors) which open the database
    themselves: while the driver holds the server, workers find it running, never
    stop it, and a killed worker cannot leave it behind; the driver stops it on exit.
    """
    uri = acquire(pgdata)
    try:
        yield uri
    finally:
        release(pgdata)
