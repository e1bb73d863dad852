"""Calls through the checked-in TLS proxy recipe (deploy/nginx/): Twilio → nginx (wss/https) → the
SessionHost the URL names, with two hosts on one node's port range; the allow-lists hold.

Real nginx (Debian's package, installed by the test setup), a certificate authority made here, the
Twilio emulator trusting it (and only verifying, as Twilio does), the engine on the session's Ray
cluster with real PostgreSQL.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import re
import socket
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from actors.bootstrap import start_engine
from engine.config import HostSettings
from tests.fixtures.nginx import start_proxy
from tests.fixtures.tls import TestCA
from tests.integration.actors.conftest import Rig, wait_for
from tests.integration.actors.real_calls import setup_real_calls

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
HOST_PORTS = 4


@pytest.fixture
def emulator_speed() -> float:
    return 4.0


def _free_port_range(n: int) -> range:
    """``n`` consecutive ports nothing listens on (the hosts' CALLENGINE_HOST_PORT_RANGE)."""
    for base in random.sample(range(21000, 29000, n), 50):
        probes: list[socket.socket] = []
        try:
            for port in range(base, base + n):
                probes.append(socket.socket())
                probes[-1].bind(("127.0.0.1", port))
            return range(base, base + n)
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise AssertionError("no free port range")


async def _status(url: str, tls: ssl.SSLContext, *, method: str = "GET") -> int:
    async with aiohttp.ClientSession() as http, http.request(method, url, ssl=tls) as response:
        return response.status


async def test_calls_reach_their_host_through_the_tls_proxy(
    rig: Rig, twilio_emulator_factory: Any, openai_emulator_factory: Any, nginx: str, tmp_path: Path
) -> None:
    ca = TestCA(tmp_path)
    ports = _free_port_range(HOST_PORTS)
    proxy = await asyncio.to_thread(
        start_proxy,
        nginx,
        tmp_path / "nginx",
        pem=ca.issue("localhost", server=True),
        server_name="localhost",
        networks=["127.0.0.1/32"],
        host_ports=list(ports),
    )
    try:

        async def twilio_trusting_the_ca(**options: Any) -> Any:
            return await twilio_emulator_factory(**options, ca_file=str(ca.pem))

        phones = ["+46701749320", "+46701749321"]
        # One call slot per host: the second call needs a second host on the same node address.
        calls = await setup_real_calls(rig, twilio_trusting_the_ca, openai_emulator_factory, phones, 1)
        tw, settings, ids = calls.twilio, calls.settings, calls.ids
        public = f"wss://localhost:{proxy.port}"
        settings = dataclasses.replace(
            settings,
            host=HostSettings(
                sessions_per_host=1,
                drain_seconds=2.0,
                port_range=f"{ports.start}-{ports.stop - 1}",
                public_url_template=public + "/{node_ip}/{port}",
            ),
        )
        await asyncio.to_thread(start_engine, settings, analysis=False, reporter=False)
        await wait_for(lambda: rig.all_in(ids, "completed", "failed", "abandoned"), 150, "calls ended")

        recs = await rig.statuses(ids)
        assert {r.session_status.value for r in recs.values()} == {"completed"}, recs
        # Twilio opened each stream through the proxy, at the address of the host that dialled.
        stream = re.compile(re.escape(public) + r"/127\.0\.0\.1/(\d+)/media/([0-9a-f-]+)$")
        routes = {}
        for call in tw.calls:
            match = stream.match(call.stream_url or "")
            assert match, call.stream_url
            routes[match.group(2)] = int(match.group(1))
            assert call.callbacks and all(cb.http_status == 204 for cb in call.callbacks), call.callbacks
        assert set(routes) == {str(i) for i in ids}
        assert len(set(routes.values())) == 2 and set(routes.values()) <= set(ports), (
            "two hosts, each reached"
        )
        # nginx carried them: the upgrades (101) and the signed callbacks (204), without the token.
        log = proxy.access_log.read_text(encoding="utf-8")
        for sid, port in routes.items():
            assert f'"GET /127.0.0.1/{port}/media/{sid}" 101' in log
            assert f'"POST /127.0.0.1/{port}/status/{sid}" 204' in log
        assert "?t=" not in log and "t=v1" not in log

        # Not an open relay: another address, a port outside the hosts' range, another path.
        tls = ssl.create_default_context(cafile=str(ca.pem))
        base = f"https://localhost:{proxy.port}"
        some = next(iter(routes.values()))
        assert await _status(f"{base}/127.0.0.2/{some}/media/x", tls) == 403
        assert await _status(f"{base}/127.0.0.1/{ports.stop}/status/x", tls, method="POST") == 403
        assert await _status(f"{base}/127.0.0.1/{some}/healthz", tls) == 404
        assert await _status(f"{base}/127.0.0.1:{some}/media/x", tls) == 404
    finally:
        await asyncio.to_thread(proxy.stop)
