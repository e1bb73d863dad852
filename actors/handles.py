"""The seam the rest of the engine (gRPC front door, CLI, demo) uses to reach the runtime.

Plain async functions over the named actors; Ray errors leave as engine errors
(``UnavailableError`` when the Dispatcher is down or restarting).
"""

from __future__ import annotations

from typing import Any

from actors import _ray

DEFAULT_TIMEOUT = 5.0


def get_dispatcher() -> Any:
    """The Dispatcher's actor handle (UnavailableError if it is not running)."""
    return _ray.get_actor(_ray.DISPATCHER_NAME)


def get_reporter() -> Any:
    return _ray.get_actor(_ray.REPORTER_NAME)


async def notify_due(session_id: str, wait_s: float = DEFAULT_TIMEOUT) -> None:
    """Tell the Dispatcher a session was written pending (best effort: it also polls)."""
    await _ray.call(get_dispatcher().notify.remote(str(session_id)), "dispatcher notify", wait_s)


async def cancel(session_id: str, wait_s: float = DEFAULT_TIMEOUT) -> bool:
    """Hang up a live call; False if no host holds it (a pending one is canceled in the DB)."""
    return bool(await _ray.call(get_dispatcher().cancel.remote(str(session_id)), "dispatcher cancel", wait_s))


async def ping(wait_s: float = DEFAULT_TIMEOUT) -> bool:
    """True while the Dispatcher answers and its loop runs."""
    try:
        return bool(await _ray.call(get_dispatcher().ping.remote(), "dispatcher ping", wait_s))
    except Exception:
        return False


async def held_reason(wait_s: float = DEFAULT_TIMEOUT) -> str | None:
    """Why the Dispatcher holds due calls (a provider's breaker is open), or None."""
    reason = await _ray.call(get_dispatcher().held_reason.remote(), "dispatcher held_reason", wait_s)
    return str(reason) if reason else None


async def stats(wait_s: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    result: dict[str, Any] = await _ray.call(get_dispatcher().stats.remote(), "dispatcher stats", wait_s)
    return result


async def build_report(store_id: str, week: str, wait_s: float = 120.0) -> str:
    """Build (or rebuild) one store's weekly report now; ``week`` is its Monday (ISO date)."""
    return str(await _ray.call(get_reporter().build.remote(store_id, week), "reporter build", wait_s))
