"""Ray errors become engine errors at one seam (actors/_ray.translate), without starting Ray."""

from __future__ import annotations

import asyncio

import pytest
import ray.exceptions as rex

from actors import _ray
from engine.dispatch.ports import HostLostError
from engine.errors import ResourceExhaustedError, UnavailableError


def test_dead_actor_is_host_lost() -> None:
    assert isinstance(_ray.translate(rex.ActorDiedError(), "x"), HostLostError)
    assert isinstance(_ray.translate(rex.ActorUnavailableError("gone", None), "x"), HostLostError)


def test_timeouts_and_other_ray_errors_are_unavailable() -> None:
    for exc in (TimeoutError(), rex.GetTimeoutError(), rex.RaySystemError("boom")):
        err = _ray.translate(exc, "dispatcher ping")
        assert isinstance(err, UnavailableError) and err.retryable
        assert "dispatcher ping" in str(err)


def test_engine_errors_pass_through() -> None:
    err = ResourceExhaustedError("full")
    assert _ray.translate(err, "x") is err


async def test_call_translates_and_times_out() -> None:
    async def never() -> None:
        await asyncio.Event().wait()

    with pytest.raises(UnavailableError, match="timed out"):
        await _ray.call(asyncio.ensure_future(never()), "slow", 0.01)

    async def dies() -> None:
        raise rex.ActorDiedError()

    with pytest.raises(HostLostError):
        await _ray.call(asyncio.ensure_future(dies()), "host status", 1.0)
