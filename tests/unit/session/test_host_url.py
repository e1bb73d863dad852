"""A CallHost fills its public URL from the template at start, and refuses one Twilio cannot use."""

from __future__ import annotations

import socket

import aiohttp
import pytest

from engine.config import HostSettings, Secret, Settings, TwilioSettings
from engine.errors import ConfigError
from engine.session.host import CallHost
from engine.session.store import MemorySessionStore

TOKEN = "a" * 32


def _settings(template: str, *, emulator: bool = True, bind: str = "127.0.0.1") -> Settings:
    twilio = TwilioSettings(
        account_sid="AC" + "0" * 32,
        auth_token=Secret(TOKEN),
        api_base_url="http://127.0.0.1:9" if emulator else "",
    )
    return Settings(twilio=twilio, host=HostSettings(bind_host=bind, public_url_template=template))


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def test_public_url_has_this_hosts_address_port_and_id() -> None:
    template = "wss://calls.example.com/{node_ip}/{port}/{host_id}"
    host = CallHost(_settings(template), MemorySessionStore(), host_id="callengine-host-ab12")
    await host.start()
    try:
        assert host.public_url == f"wss://calls.example.com/127.0.0.1/{host.port}/callengine-host-ab12"
    finally:
        await host.stop()


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        # built in code, so never checked by the loader: the host checks at start
        (_settings("wss://calls.example.com/{node_id}"), r"unknown placeholder \{node_id\}"),
        # real Twilio, a wildcard bind and the plain default: Twilio would never reach it
        (_settings("ws://{node_ip}:{port}", emulator=False, bind="0.0.0.0"), "wss:// media streams only"),
    ],
)
async def test_a_template_twilio_cannot_use_stops_the_host(settings: Settings, named: str) -> None:
    host = CallHost(settings, MemorySessionStore(), node_ip="10.1.2.3")
    with pytest.raises(ConfigError, match=named):
        await host.start()
    assert host.port and _free(host.port), "the listener was closed again"


async def test_a_prefixed_public_url_still_serves_a_proxy_that_strips_the_prefix() -> None:
    settings = _settings("wss://calls.example.com/{node_ip}/{port}")
    host = CallHost(settings, MemorySessionStore())
    await host.start()
    try:
        base = f"http://127.0.0.1:{host.port}"
        prefix = f"/127.0.0.1/{host.port}"
        async with aiohttp.ClientSession() as http:
            for path, status in (
                (f"{prefix}/status/s1", 403),  # this host's path: checked (unsigned: refused)
                ("/status/s1", 403),  # the prefix stripped by the proxy: checked the same way
                ("/127.0.0.1/1/status/s1", 404),  # another host's path
            ):
                async with http.post(base + path, data={"CallStatus": "ringing"}) as response:
                    assert response.status == status, path
        assert host.rejected == {"forged_signature": 2, "misrouted": 1}
    finally:
        await host.stop()
