"""CALLENGINE_PUBLIC_URL_TEMPLATE: the placeholders that exist, refused early with the bad one named."""

from __future__ import annotations

import pytest

from engine.config import Settings
from engine.errors import ConfigError
from engine.telephony import public_url


def test_render_fills_every_placeholder() -> None:
    url = public_url.render(
        "wss://calls.example.com/{node_ip}/{port}/{host_id}/",
        node_ip="10.0.3.7",
        port=20001,
        host_id="callengine-host-ab12",
    )
    assert url == "wss://calls.example.com/10.0.3.7/20001/callengine-host-ab12"
    assert public_url.render("ws://{node_ip}:{port}", node_ip="::1", port=80, host_id="h") == "ws://[::1]:80"
    # in the path an IPv6 address stays as it is
    assert public_url.render("wss://x/{node_ip}", node_ip="fd00::1", port=1, host_id="h") == "wss://x/fd00::1"


@pytest.mark.parametrize(
    ("template", "named", "hint"),
    [
        ("wss://calls.example.com/{node_id}", "{node_id}", "{node_ip}/{port}"),  # the old docs' example
        ("ws://{host}:{port}", "{host}", "bind address"),  # the old default
        ("wss://x/{nodeip}/{port}", "{nodeip}", "did you mean {node_ip}?"),
        ("wss://x/{0}", "{0}", "{node_ip}, {port}, {host_id}"),
        ("wss://x/{}", "{}", "{node_ip}, {port}, {host_id}"),
    ],
)
def test_unknown_placeholders_are_named(template: str, named: str, hint: str) -> None:
    with pytest.raises(ConfigError) as err:
        public_url.check(template)
    assert f"unknown placeholder {named}" in str(err.value) and hint in str(err.value)
    assert "CALLENGINE_PUBLIC_URL_TEMPLATE" in str(err.value)


@pytest.mark.parametrize(
    ("template", "why"),
    [
        ("wss://x/{port:05d}", "format spec"),
        ("wss://x/{port!r}", "format spec"),
        ("wss://x/{port", "not a template"),
        ("https://x/{node_ip}/{port}", "ws:// or wss://"),
        ("wss:///{port}", "ws:// or wss://"),
        ("wss://x/{node_ip}?port={port}", "no query string"),
    ],
)
def test_templates_twilio_cannot_use_are_refused(template: str, why: str) -> None:
    with pytest.raises(ConfigError, match="CALLENGINE_PUBLIC_URL_TEMPLATE") as err:
        public_url.check(template)
    assert why in str(err.value)


def test_refused_when_settings_load_before_any_host_starts() -> None:
    with pytest.raises(ConfigError, match=r"unknown placeholder \{node_id\}"):
        Settings.from_env({"CALLENGINE_PUBLIC_URL_TEMPLATE": "wss://calls.example.com/{node_id}"})
    ok = Settings.from_env({"CALLENGINE_PUBLIC_URL_TEMPLATE": "wss://calls.example.com/{node_ip}/{port}"})
    assert ok.host.public_url_template.endswith("/{node_ip}/{port}")
    public_url.check(Settings().host.public_url_template)  # the default is valid too


def test_a_nodes_own_template_is_checked_when_the_actor_starts_there() -> None:
    with pytest.raises(ConfigError, match=r"\{host\}"):
        Settings().on_this_node({"CALLENGINE_PUBLIC_URL_TEMPLATE": "ws://{host}:{port}"})


def test_node_address_is_the_bind_address_or_the_nodes_ip() -> None:
    assert public_url.node_address("10.0.3.7", "10.9.9.9") == "10.0.3.7"
    assert public_url.node_address("127.0.0.1") == "127.0.0.1"
    assert public_url.node_address("[::1]") == "::1"
    assert public_url.node_address("0.0.0.0", "10.9.9.9") == "10.9.9.9"
    assert public_url.node_address("::", "fd00::5") == "fd00::5"
    assert public_url.node_address("0.0.0.0")  # some address of this machine without Ray


def test_real_twilio_needs_wss_off_loopback() -> None:
    public_url.check_for_twilio("wss://calls.example.com/10.0.0.1/8765")
    public_url.check_for_twilio("ws://127.0.0.1:8765")  # a local trial
    public_url.check_for_twilio("ws://[::1]:8765")
    with pytest.raises(ConfigError, match="Twilio opens wss:// media streams only"):
        public_url.check_for_twilio("ws://10.0.0.1:8765")
