"""The front door inside the cluster: detached ingress actors per node offering ``ingress``.

Real Ray (the session's multi-node cluster), real PostgreSQL. The Dispatcher is
a tiny named actor defined here (the real one is tested by the Ray runtime's
suite): health must follow it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from actors.ingress import start_ingress, stop_ingress
from engine.api.auth import TokenAuthority
from engine.api.gen import callengine_pb2 as pb
from engine.api.gen import callengine_pb2_grpc as pb_grpc
from engine.config import ApiSettings, Secret, Settings
from engine.domain import Role
from tests.fixtures.postgres import PgServer, settings_for
from tests.fixtures.ray_cluster import RayCluster

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]
SECRET = "ingress-test-secret-0123456789abcdef0123"


def _settings(pg_server: PgServer) -> Settings:
    base = settings_for(pg_server)
    api = dataclasses.replace(ApiSettings(), jwt_secret=Secret(SECRET), bind_host="127.0.0.1")
    return dataclasses.replace(base, api=api)


def _fake_dispatcher() -> Any:
    import ray

    @ray.remote(num_cpus=0)
    class FakeDispatcher:
        def __init__(self) -> None:
            self.notified: list[str] = []
            self.changed = asyncio.Condition()

        async def notify(self, session_id: str) -> None:
            async with self.changed:
                self.notified.append(session_id)
                self.changed.notify_all()

        async def wait_notified(self, session_id: str) -> bool:
            async with self.changed:
                await asyncio.wait_for(self.changed.wait_for(lambda: session_id in self.notified), 30)
            return True

        async def cancel(self, session_id: str) -> bool:
            return False

        async def ping(self) -> bool:
            return True

        async def seen(self) -> list[str]:
            return self.notified

    return FakeDispatcher.options(name="callengine-dispatcher", namespace="callengine").remote()


async def _wait_health(address: str, want: int, wait_s: float = 60) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        stream = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service="callengine.v1.CallEngine"), timeout=wait_s
        )
        async for resp in stream:
            if resp.status == want:
                stream.cancel()
                return


async def _dispatch(address: str, settings: Settings) -> pb.DispatchCallResponse:
    md = (("authorization", "Bearer " + TokenAuthority(SECRET, "callengine").mint("t", Role.SERVICE)),)
    store, vid = uuid.uuid4(), uuid.uuid4()
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.CallEngineStub(channel)
        await stub.PutStore(
            pb.PutStoreRequest(
                store_id=str(store), business_id=str(uuid.uuid4()), name="S", business_name="B"
            ),
            metadata=md,
        )
        phone = f"+4670{vid.int % 10_000_000:07d}"  # its own number: the cooldown spans tests
        req = pb.PutVerificationRequest(
            customer_verification_id=str(vid),
            store_id=str(store),
            phone_number=phone,
            purchase_amount="5",
        )
        req.purchase_time.FromDatetime(dt.datetime.now(dt.UTC))
        await stub.PutVerification(req, metadata=md)
        return await stub.DispatchCall(
            pb.DispatchCallRequest(customer_verification_id=str(vid), store_id=str(store)),
            metadata=md,
            timeout=30,
        )


def _next_incarnation(handle: Any, old_pid: int, attempts: int = 60) -> str:
    """Ask until a new process answers; calls to the dying one fail or still name it."""
    import ray

    for _ in range(attempts):
        try:
            pid, address = ray.get(handle.process.remote(), timeout=60)
        except ray.exceptions.RayError:
            continue
        if pid != old_pid:
            return str(address)
    raise AssertionError("the ingress actor did not come back")


def test_ingress_per_node_serves_follows_dispatcher_and_restarts(
    ray_clean: RayCluster, pg_server: PgServer
) -> None:
    import ray

    settings = _settings(pg_server)
    ingresses = start_ingress(settings, 0)
    try:
        assert len(ingresses) == len(ray_clean.workers) == 2
        assert len({i.node_id for i in ingresses}) == 2
        address = ingresses[0].address
        # No Dispatcher yet: the door is up but says NOT_SERVING.
        asyncio.run(_wait_health(address, health_pb2.HealthCheckResponse.NOT_SERVING))
        dispatcher = _fake_dispatcher()
        ray.get(dispatcher.ping.remote(), timeout=30)
        asyncio.run(_wait_health(address, health_pb2.HealthCheckResponse.SERVING))
        out = asyncio.run(_dispatch(address, settings))
        assert out.status == pb.SESSION_STATUS_PENDING
        # The notice goes out in the background after the commit; wait for it (event, not sleep).
        assert ray.get(dispatcher.wait_notified.remote(out.session_id), timeout=60)

        # A crashed ingress comes back by itself (max_restarts=-1) and serves again.
        handle = ingresses[1].handle
        old_pid, _ = ray.get(handle.process.remote(), timeout=30)
        ray.kill(handle, no_restart=False)
        new_address = _next_incarnation(handle, old_pid)
        asyncio.run(_wait_health(new_address, health_pb2.HealthCheckResponse.SERVING))
        assert asyncio.run(_dispatch(new_address, settings)).status == pb.SESSION_STATUS_PENDING
        ingresses[1] = dataclasses.replace(ingresses[1], address=new_address)
    finally:
        stop_ingress(ingresses, grace=1.0)


def test_a_node_that_joins_later_gets_a_front_door_and_one_that_leaves_loses_it(
    ray_clean: RayCluster, pg_server: PgServer
) -> None:
    """What `callengine serve` does every few seconds: the autoscaler's nodes get ingress too."""
    from actors.ingress import refresh_ingress

    settings = _settings(pg_server)
    ingresses = start_ingress(settings, 0)
    node = None
    try:
        before = {i.node_id for i in ingresses}
        ingresses, added = refresh_ingress(settings, 0, ingresses)
        assert added == [] and {i.node_id for i in ingresses} == before  # nothing new: nothing done
        node = ray_clean.add_worker()
        ingresses, added = refresh_ingress(settings, 0, ingresses)
        (new,) = added
        assert new.node_id not in before and len(ingresses) == 3
        asyncio.run(_wait_health(new.address, health_pb2.HealthCheckResponse.NOT_SERVING))
        ray_clean.cluster.remove_node(node, allow_graceful=True)  # as the autoscaler drains one
        ray_clean.workers.remove(node)
        node = None
        _wait_until_gone(new.node_id)
        ingresses, added = refresh_ingress(settings, 0, ingresses)
        assert added == [] and {i.node_id for i in ingresses} == before
    finally:
        if node is not None:
            ray_clean.remove_worker(node)
        stop_ingress(ingresses, grace=1.0)


def _wait_until_gone(node_id: str, limit_s: float = 60.0) -> None:
    import time

    import ray

    deadline = time.monotonic() + limit_s
    while any(n["NodeID"] == node_id and n["Alive"] for n in ray.nodes()):
        assert time.monotonic() < deadline, "the removed node is still alive"
        time.sleep(0.1)
