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
    # Every node runs the image the repository's Dockerfile builds; serve joins the head's Ray.
    assert config["docker"]["image"].endswith("/callengine:0.1.0")
    head_start = " ".join(config["head_start_ray_commands"])
    assert "--dashboard-port" in head_start
    assert "RAY_ADDRESS=auto nohup callengine serve" in head_start


def test_ray_ports_closed_and_token_auth_on() -> None:
    config = load("ray_cluster.yaml")
    head = " ".join(config["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head and "0.0.0.0" not in head
    run_options = " ".join(config["docker"]["run_options"])
    assert "RAY_AUTH_MODE=token" in run_options and "CALLENGINE_SECRETS_DIR=" in run_options
    assert "runtime_env" not in (ROOT / "ray_cluster.yaml").read_text(encoding="utf-8")
    docs = list(yaml.safe_load_all((ROOT / "deploy/kuberay.yaml").read_text(encoding="utf-8")))
    (cluster,) = [d for d in docs if d and d.get("kind") == "RayCluster"]
    spec = cluster["spec"]
    assert spec["headGroupSpec"]["rayStartParams"]["dashboard-host"] == "127.0.0.1"
    containers = list(spec["headGroupSpec"]["template"]["spec"]["containers"])
    for group in spec["workerGroupSpecs"]:
        containers += group["template"]["spec"]["containers"]
    for container in containers:
        assert "dashboard" not in {p.get("name") for p in container.get("ports", [])}
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        assert env.get("RAY_AUTH_MODE") == "token", container["name"]
    services = [d for d in docs if d and d.get("kind") == "Service"]
    assert all(8265 not in {p.get("port") for p in svc["spec"]["ports"]} for svc in services)
