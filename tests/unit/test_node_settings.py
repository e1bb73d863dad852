"""How a process gets its settings: secrets never travel in a pickle; each node looks them up itself."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import HostSettings, Secret, Settings, TwilioSettings, node_secret, publish_secrets
from engine.errors import ConfigError

TOKEN = "f" * 32


def test_pickled_settings_carry_secret_names_not_values(monkeypatch: pytest.MonkeyPatch) -> None:
    # A local Ray started earlier in this process publishes the driver's secrets
    # through CALLENGINE_SECRETS_DIR (actors/process.py): this node must have none.
    for name in ("TWILIO_AUTH_TOKEN", "TWILIO_AUTH_TOKEN_FILE", "CALLENGINE_SECRETS_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(twilio=TwilioSettings(auth_token=Secret(TOKEN)))
    blob = pickle.dumps(settings)
    assert TOKEN.encode() not in blob
    assert b"TWILIO_AUTH_TOKEN" in blob
    # unpickled where the node has no such secret: empty, not the driver's value
    assert pickle.loads(blob).twilio.auth_token.get() == ""
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "node-own-token")
    assert pickle.loads(blob).twilio.auth_token.get() == "node-own-token"


def test_unnamed_secret_refuses_to_be_pickled() -> None:
    with pytest.raises(ConfigError):
        pickle.dumps(Secret("loose"))


def test_file_and_secrets_dir_are_read_on_the_node(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("from-file\n")
    assert node_secret("OPENAI_API_KEY", {"OPENAI_API_KEY_FILE": str(tmp_path / "file")}).get() == "from-file"
    published = publish_secrets(Settings(twilio=TwilioSettings(auth_token=Secret(TOKEN))), tmp_path / "s")
    assert oct((published / "TWILIO_AUTH_TOKEN").stat().st_mode)[-3:] == "600"
    env = {"CALLENGINE_SECRETS_DIR": str(published), "TWILIO_AUTH_TOKEN": "env-loses"}
    assert node_secret("TWILIO_AUTH_TOKEN", env).get() == TOKEN
    assert Settings.from_env(env).twilio.auth_token.get() == TOKEN


def test_another_process_resolves_from_its_own_environment(tmp_path: Path) -> None:
    """The unpickling process's environment decides, as a Ray worker on another node would."""
    blob = tmp_path / "settings.pickle"
    blob.write_bytes(pickle.dumps(Settings(twilio=TwilioSettings(auth_token=Secret(TOKEN)))))
    code = "import pickle,sys; print(pickle.loads(open(sys.argv[1],'rb').read()).twilio.auth_token.get())"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO", "CALLENGINE"))}
    env["TWILIO_AUTH_TOKEN"] = "worker-node-token"
    out = subprocess.run([sys.executable, "-c", code, str(blob)], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "worker-node-token", out.stderr


def test_host_section_comes_from_the_node() -> None:
    shipped = Settings(host=HostSettings(sessions_per_host=7, public_url_template="ws://driver:{port}"))
    env = {"CALLENGINE_PUBLIC_URL_TEMPLATE": "wss://calls.example.com/node-b"}
    on_node = shipped.on_this_node(env)
    assert on_node.host.public_url_template == "wss://calls.example.com/node-b"
    assert on_node.host.sessions_per_host == 7  # not set on the node: the cluster-wide value
    assert shipped.on_this_node({}) is shipped


def test_a_nodes_port_or_port_range_replaces_the_other_kind() -> None:
    from engine.config_checks import host_ports

    shipped = Settings(host=HostSettings(port_range="20000-20003"))
    assert host_ports(shipped.host) == range(20000, 20004)
    fixed = shipped.on_this_node({"CALLENGINE_HOST_PORT": "8765"})
    assert (fixed.host.port, fixed.host.port_range, host_ports(fixed.host)) == (8765, "", None)
    ranged = Settings(host=HostSettings(port=8765)).on_this_node({"CALLENGINE_HOST_PORT_RANGE": "9000-9001"})
    assert (ranged.host.port, host_ports(ranged.host)) == (0, range(9000, 9002))
