"""The one seam between callengine and Ray's API: names, placement options, and error translation.

Every actor call the runtime makes goes through :func:`call`, so Ray's errors
leave as engine errors in one place: a dead actor or node → ``HostLostError``
(an ``UnavailableError``), a timeout or unreachable cluster → ``UnavailableError``,
an error raised inside the actor → the engine error it carried, if any.
"""

from __future__ import annotations

import asyncio
from typing import Any

import ray
import ray.exceptions as rex

from engine.dispatch.ports import HostLostError
from engine.errors import CallEngineError, UnavailableError

NAMESPACE = "callengine"
DISPATCHER_NAME = "callengine-dispatcher"
REPORTER_NAME = "callengine-reporter"
HOST_PREFIX = "callengine-host-"
ASSESSOR_PREFIX = "callengine-assessor-"
FRAUD_PREFIX = "callengine-fraud-"
WEBHOOK_PREFIX = "callengine-webhook-"
CALL_HUB = "call_hub"
CONTROL = "control"

_DEAD = (rex.ActorDiedError, rex.ActorUnavailableError, rex.NodeDiedError, rex.OwnerDiedError)


def translate(exc: BaseException, what: str) -> CallEngineError:
    """Map a Ray exception to the engine error a caller handles."""
    if isinstance(exc, rex.RayTaskError):
        inner = getattr(exc, "cause", None)
        if isinstance(inner, CallEngineError):
            return inner
        return UnavailableError(f"{what} failed: {type(inner or exc).__name__}")
    if isinstance(exc, CallEngineError):
        return exc
    if isinstance(exc, _DEAD):
        return HostLostError(f"{what}: actor is gone ({type(exc).__name__})")
    if isinstance(exc, TimeoutError | rex.GetTimeoutError):
        return UnavailableError(f"{what}: timed out")
    if isinstance(exc, rex.RayError):
        return UnavailableError(f"{what}: {type(exc).__name__}")
    return UnavailableError(f"{what}: {type(exc).__name__}")


async def call(ref: Any, what: str, wait_s: float | None = 10.0) -> Any:
    """Await an ObjectRef with a timeout; Ray errors become engine errors."""
    try:
        if wait_s is None:
            return await ref
        return await asyncio.wait_for(ref, wait_s)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise translate(exc, what) from exc


def get_sync(ref: Any, what: str, timeout: float | None = 60.0) -> Any:
    """``ray.get`` for driver code (bootstrap), with the same translation."""
    try:
        return ray.get(ref, timeout=timeout)
    except Exception as exc:
        raise translate(exc, what) from exc


def get_actor(name: str) -> Any:
    """A named actor in the callengine namespace; UnavailableError if there is none."""
    try:
        return ray.get_actor(name, namespace=NAMESPACE)
    except ValueError as exc:
        raise UnavailableError(f"actor {name!r} not found") from exc


def named_actors(prefix: str) -> list[str]:
    """Names of live named actors in our namespace starting with ``prefix``."""
    found = ray.util.list_named_actors(all_namespaces=True)
    return sorted(
        a["name"] for a in found if a.get("namespace") == NAMESPACE and str(a["name"]).startswith(prefix)
    )


def control_resources() -> dict[str, float]:
    """Pin control actors to nodes offering ``control`` (the head) when the cluster has any."""
    try:
        has = ray.cluster_resources().get(CONTROL, 0) > 0
    except Exception:  # not connected: no preference
        has = False
    return {CONTROL: 0.001} if has else {}


def kill(handle: Any) -> None:
    try:
        ray.kill(handle, no_restart=True)
    except (rex.RayError, ValueError):
        pass  # already gone
