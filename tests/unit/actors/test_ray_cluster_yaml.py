"""ray_cluster.yaml is a real autoscaler config: Ray's own schema accepts it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import ray.autoscaler
import yaml

ROOT = Path(__file__).resolve().parents[3]


def load(name: str) -> Any:
    return yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))


def test_validates_against_rays_schema() -> None:
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = load("ray_cluster.yaml")
    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    jsonschema.validate(config, schema)
    # What `ray up` does: fill the provider's defaults, then Ray's own validation.
    validate_config(prepare_config(config))


def test_layout_head_control_and_call_workers() -> None:
    config = load("ray_cluster.yaml")
    assert config["provider"]["type"] == "aws"
    types = config["available_node_types"]
    head = types[config["head_node_type"]]
    assert head["resources"]["CPU"] == 0 and head["resources"]["control"] > 0
    workers = [t for name, t in types.items() if name != config["head_node_type"]]
    assert any(t["resources"].get("call_hub", 0) > 0 for t in workers)
    joined = " ".join(config["setup_commands"])
    assert "pip install" in joined and "callengine" in joined
    assert "--dashboard-port" in " ".join(config["head_start_ray_commands"])


def test_kuberay_example_is_a_raycluster() -> None:
    doc = load("docs/kuberay.yaml")
    assert doc["kind"] == "RayCluster" and doc["apiVersion"].startswith("ray.io/")
    assert doc["spec"]["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    worker = doc["spec"]["workerGroupSpecs"][0]
    resources = json.loads(json.loads(worker["rayStartParams"]["resources"]))
    assert resources["call_hub"] > 0


def test_ray_ports_closed_and_token_auth_on() -> None:
    config = load("ray_cluster.yaml")
    head = " ".join(config["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head and "0.0.0.0" not in head
    for commands in (config["head_start_ray_commands"], config["worker_start_ray_commands"]):
        assert all("RAY_AUTH_MODE=token" in c for c in commands if "ray start" in c)
    assert "runtime_env" not in (ROOT / "ray_cluster.yaml").read_text(encoding="utf-8")
    kuberay = load("docs/kuberay.yaml")
    spec = kuberay["spec"]
    assert spec["headGroupSpec"]["rayStartParams"]["dashboard-host"] == "127.0.0.1"
    head_container = spec["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert "dashboard" not in {p.get("name") for p in head_container["ports"]}
    containers = [head_container] + [g["template"]["spec"]["containers"][0] for g in spec["workerGroupSpecs"]]
    for container in containers:
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        assert env["RAY_AUTH_MODE"] == "token" and env["CALLENGINE_SECRETS_DIR"]
        # secrets come from a mounted volume, never as plain environment values in the manifest
        assert not any("secretRef" in str(e) for e in container.get("envFrom", []))
