"""Fixtures for call-session integration tests: a CallHost wired to the emulators, leak checks."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import msgspec
import pytest
from websockets.asyncio.connection import Connection
from websockets.protocol import State

from engine.config import Secret, SessionSettings, Settings
from engine.emulators.scenarios import ScenarioSet, default_scenarios, parse_scenarios
from engine.session.call import CallRequest
from engine.session.conversation import BusinessContext
from engine.session.host import CallHost
from engine.session.store import MemorySessionStore, SessionStore

SPEED = 10.0
OUTCOME_TIMEOUT = 40.0


@pytest.fixture
def emulator_speed() -> float:
    return SPEED


def contexts_from(scenarios: ScenarioSet) -> dict[str, BusinessContext]:
    return {
        s.id: BusinessContext(store_name=s.name, departments=list(s.departments), campaigns=list(s.campaigns))
        for s in default_scenarios().stores + scenarios.stores
    }


def session_settings(speed: float = SPEED, **overrides: Any) -> SessionSettings:
    """Virtual-time defaults scaled to the emulator speed (our timers run on real time)."""
    values: dict[str, Any] = {
        # Twilio's TimeLimit is max_call_seconds + 60 *emulated* seconds: keep it well above a call.
        "max_call_seconds": 1200.0 / speed,
        "silence_nudge_seconds": 8.0 / speed,
        "silence_hangup_seconds": 20.0 / speed,
        "transcript_flush_seconds": 1.0 / speed,
        "closing_silence_seconds": 4.0 / speed,
    }
    values.update(overrides)
    return SessionSettings(**values)


def host_settings(env: dict[str, str], session: SessionSettings, **host: Any) -> Settings:
    settings = Settings.from_env({**env, "CALLENGINE_HOST_PORT": "0"})
    return dataclasses.replace(
        settings,
        session=session,
        host=dataclasses.replace(settings.host, **host),
        openai=dataclasses.replace(settings.openai, api_key=Secret(env["OPENAI_API_KEY"])),
    )


@pytest.fixture
async def no_leaks() -> AsyncIterator[None]:
    """Fails the test if a session's tasks or WebSocket connections outlive its call."""
    yield
    for _ in range(100):
        tasks = [t for t in asyncio.all_tasks() if not t.done() and _ours(t)]
        sockets = [c for c in _connections() if c.state is not State.CLOSED and _session_socket(c)]
        sockets += [f for f in _fast_sockets() if not f.closed]  # Realtime sockets (picows)
        if not tasks and not sockets:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"leaked tasks: {[t.get_name() for t in tasks]}; open sockets: {len(sockets)}")


def _connections() -> list[Connection]:
    found = []
    for obj in gc.get_objects():
        try:
            if isinstance(obj, Connection):
                found.append(obj)
        except ReferenceError:  # a dead weakref proxy
            continue
    return found


def _fast_sockets() -> list[Any]:
    from engine.realtime.fastws import FastSocket

    found = []
    for obj in gc.get_objects():
        try:
            if isinstance(obj, FastSocket):
                found.append(obj)
        except ReferenceError:
            continue
    return found


def _ours(task: asyncio.Task[Any]) -> bool:
    """A task running session code (the host's own server tasks are not per-call)."""
    code = getattr(task.get_coro(), "cr_code", None)
    filename = getattr(code, "co_filename", "")
    return any(part in filename for part in ("engine/session/", "engine/realtime/", "engine/telephony/"))


def _session_socket(connection: Connection) -> bool:
    """Media streams served by a CallHost and Realtime sockets a session opened."""
    request = getattr(connection, "request", None)
    path = getattr(request, "path", "") or ""
    return "/media/" in path or "/realtime" in path


HostFactory = Callable[..., Awaitable[tuple[CallHost, MemorySessionStore]]]


@dataclasses.dataclass
class Rig:
    twilio: Any
    openai: Any
    host: CallHost
    store: Any

    async def call(
        self, session_id: str, phone: str, store_id: str = "grocery-solna", attempt: int = 1
    ) -> Any:
        await self.host.start_call(CallRequest(session_id, store_id, phone, attempt))
        return await self.outcome()

    async def outcome(self) -> Any:
        assert self.host.outcomes is not None
        async with asyncio.timeout(OUTCOME_TIMEOUT):
            return await self.host.outcomes.get()


RigFactory = Callable[..., Awaitable[Rig]]


@pytest.fixture
async def rig(twilio_emulator_factory: Any, openai_emulator_factory: Any) -> AsyncIterator[RigFactory]:
    """``await rig(scenarios=[...], session=..., openai=dict(...), twilio=dict(...), store=...)``."""
    hosts: list[CallHost] = []

    async def make(
        *,
        scenarios: list[dict[str, Any]] | None = None,
        session: SessionSettings | None = None,
        openai: dict[str, Any] | None = None,
        twilio: dict[str, Any] | None = None,
        store: SessionStore | None = None,
        twilio_client_factory: Any = None,
        **host_fields: Any,
    ) -> Rig:
        scenario_set = default_scenarios()
        if scenarios:
            base = msgspec.to_builtins(default_scenarios().stores)
            scenario_set = parse_scenarios({"stores": base, "scenarios": scenarios})
        tw = await twilio_emulator_factory(scenarios=scenario_set, **(twilio or {}))
        oa = await openai_emulator_factory(**(openai or {}))
        env = {**tw.env(), "OPENAI_BASE_URL": oa.base_url, "OPENAI_API_KEY": oa.api_key}
        settings = host_settings(env, session or session_settings(), **host_fields)
        mem = store or MemorySessionStore(contexts_from(scenario_set))
        host = (
            CallHost(settings, mem)
            if twilio_client_factory is None
            else CallHost(settings, mem, twilio_client_factory=twilio_client_factory)
        )
        await host.start()
        hosts.append(host)
        return Rig(tw, oa, host, mem)

    yield make
    for h in hosts:
        await h.stop()
