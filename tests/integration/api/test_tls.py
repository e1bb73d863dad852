"""The front door over TLS with a CA made in the test: server-only TLS, then mutual TLS."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from engine.api import tls
from engine.api.auth import TokenAuthority
from engine.api.server import serve_in_process
from engine.config import ApiSettings, Settings
from storage.database import Database
from tests.fixtures.tls import TestCA
from tests.integration.api.conftest import SECRET, FakeDispatcher

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(120)]


async def _health(api: ApiSettings, address: str) -> int:
    async with tls.channel(api, address) as ch:
        reply = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
        return int(reply.status)


async def test_tls_and_mutual_tls(api_settings: Settings, api_db: Database, tmp_path: Path) -> None:
    ca = TestCA(tmp_path)
    server_pem = ca.issue("localhost", server=True)
    client_pem = ca.issue("backend", server=False)
    stranger = TestCA(tmp_path, "another CA").issue("intruder", server=False)
    served = dataclasses.replace(
        api_settings.api, tls_cert_file=str(server_pem.cert), tls_key_file=str(server_pem.key)
    )
    authority = TokenAuthority(SECRET, "callengine")
    running = await serve_in_process(
        dataclasses.replace(api_settings, api=served),
        api_db,
        FakeDispatcher(),
        port=0,
        host="127.0.0.1",
        authority=authority,
    )
    try:
        trusting = ApiSettings(tls_ca_file=str(ca.pem))
        assert await _health(trusting, running.address) == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.aio.AioRpcError):  # plaintext gets nowhere
            await _health(ApiSettings(), running.address)
        with pytest.raises(grpc.aio.AioRpcError):  # nor does a client trusting another CA
            await _health(ApiSettings(tls_ca_file=str(tmp_path / "another-CA.pem")), running.address)
    finally:
        await running.stop(0)

    mutual = dataclasses.replace(served, tls_client_ca_file=str(ca.pem))
    running = await serve_in_process(
        dataclasses.replace(api_settings, api=mutual),
        api_db,
        FakeDispatcher(),
        port=0,
        host="127.0.0.1",
        authority=authority,
    )
    try:
        with_cert = ApiSettings(
            tls_ca_file=str(ca.pem),
            tls_client_cert_file=str(client_pem.cert),
            tls_client_key_file=str(client_pem.key),
        )
        assert await _health(with_cert, running.address) == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.aio.AioRpcError):
            await _health(ApiSettings(tls_ca_file=str(ca.pem)), running.address)
        foreign = dataclasses.replace(
            with_cert, tls_client_cert_file=str(stranger.cert), tls_client_key_file=str(stranger.key)
        )
        with pytest.raises(grpc.aio.AioRpcError):
            await _health(foreign, running.address)
    finally:
        await running.stop(0)
