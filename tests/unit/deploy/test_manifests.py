"""deploy/ validates: Kubernetes' own schemas for the core kinds, the RayCluster API for the CR.

And the manifests agree with the rest of the repository: the image the Dockerfile builds, the
Ray version of the lock, the ports the settings declare, probes that exist, the settings file a
strict loader accepts, every secret key a real setting.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from engine.config import Settings, env_names

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
K8S_VERSION = "1.33"  # the oldest Kubernetes the manifests are written for (grpc probes are GA since 1.27)
IMAGE = "registry.example.com/callengine:0.1.0"


def documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text(encoding="utf-8")) if d]


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def raycluster() -> dict[str, Any]:
    (rc,) = by_kind(documents("kuberay.yaml"), "RayCluster")
    return rc


def pod_templates(rc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {"head": rc["spec"]["headGroupSpec"]["template"]}
    for group in rc["spec"]["workerGroupSpecs"]:
        out[group["groupName"]] = group["template"]
    return out


def containers(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in template["spec"]["containers"]}


@pytest.mark.parametrize("name", ["kuberay.yaml", "secret.example.yaml"])
def test_core_kinds_validate_against_kubernetes_schemas(name: str) -> None:
    core = [d for d in documents(name) if not d["apiVersion"].startswith("ray.io/")]
    assert core
    for doc in core:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_raycluster_validates_against_the_raycluster_api() -> None:
    schema = json.loads((DEPLOY / "schema" / "raycluster-v1.schema.json").read_text(encoding="utf-8"))
    rc = raycluster()
    jsonschema.validate(rc, schema)
    for name, template in pod_templates(rc).items():
        wrapped = {
            "apiVersion": "v1",
            "kind": "PodTemplate",
            "metadata": {"name": name},
            "template": template,
        }
        kubernetes_validate.validate(wrapped, K8S_VERSION, strict=True)


def test_the_validation_catches_mistakes() -> None:
    """The schemas are strict enough to fail: a misspelt field, a bad probe, a wrong type."""
    schema = json.loads((DEPLOY / "schema" / "raycluster-v1.schema.json").read_text(encoding="utf-8"))
    rc = raycluster()
    typo = json.loads(json.dumps(rc))
    typo["spec"]["workerGroupSpecs"][0]["maxReplica"] = 3
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(typo, schema)
    number = json.loads(json.dumps(rc))
    number["spec"]["headGroupSpec"]["rayStartParams"]["num-cpus"] = 0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(number, schema)
    head = json.loads(json.dumps(pod_templates(rc)["head"]))
    head["spec"]["containers"][0]["readinessProbe"]["grpc"]["port"] = "grpc"  # must be a number
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(
            {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "x"}, "template": head},
            K8S_VERSION,
            strict=True,
        )


def test_every_ray_container_runs_the_repository_image_and_the_locked_ray() -> None:
    rc = raycluster()
    locked = re.search(
        r"^ray==([\d.]+)", (ROOT / "constraints.txt").read_text(encoding="utf-8"), re.MULTILINE
    )
    assert locked and rc["spec"]["rayVersion"] == locked.group(1)
    assert f"'{locked.group(1)}'" in (ROOT / "Dockerfile").read_text(encoding="utf-8")
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert IMAGE.endswith(f":{version}")
    for template in pod_templates(rc).values():
        for container in template["spec"]["containers"]:
            assert container["image"] == IMAGE, container["name"]
        assert template["spec"]["securityContext"]["runAsNonRoot"] is True


def test_head_runs_serve_with_a_grpc_readiness_probe_and_services_expose_grpc_and_media() -> None:
    docs = documents("kuberay.yaml")
    rc = raycluster()
    settings = _settings_from_configmap(docs)
    head = pod_templates(rc)["head"]
    head_containers = containers(head)
    serve = head_containers["callengine-serve"]
    assert serve["command"] == ["callengine", "serve"]
    assert {"name": "RAY_ADDRESS", "value": "ray://127.0.0.1:10001"} in serve["env"]
    ray_head = head_containers["ray-head"]
    assert ray_head["readinessProbe"]["grpc"]["port"] == settings.api.port
    assert json.loads(json.loads(rc["spec"]["headGroupSpec"]["rayStartParams"]["resources"]))["ingress"] == 1

    services = {s["metadata"]["name"]: s for s in by_kind(docs, "Service")}
    grpc_svc, media_svc = services["callengine-grpc"], services["callengine-media"]
    assert grpc_svc["spec"]["ports"][0]["port"] == settings.api.port
    assert media_svc["spec"]["ports"][0]["port"] == settings.host.port
    # Each Service selects the pods that serve its port, by a label their template carries.
    for svc, group in ((grpc_svc, "head"), (media_svc, "call-workers")):
        labels = pod_templates(rc)[group]["metadata"]["labels"]
        assert svc["spec"]["selector"].items() <= labels.items(), svc["metadata"]["name"]
        port_name = svc["spec"]["ports"][0]["targetPort"]
        ports = [p for c in pod_templates(rc)[group]["spec"]["containers"] for p in c.get("ports", [])]
        assert any(
            p["name"] == port_name and p["containerPort"] == svc["spec"]["ports"][0]["port"] for p in ports
        )

    worker_group = rc["spec"]["workerGroupSpecs"][0]
    # One SessionHost per pod: the fixed media port can only be bound once per pod.
    assert json.loads(json.loads(worker_group["rayStartParams"]["resources"])) == {"call_hub": 1}
    worker = containers(worker_group["template"])["ray-worker"]
    assert worker["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": settings.host.port}


def _settings_from_configmap(docs: list[dict[str, Any]]) -> Settings:
    (cm,) = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"] == "callengine-config"]
    return _load_toml(cm["data"]["callengine.toml"])


def _load_toml(text: str) -> Settings:
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(text)
    try:
        return Settings.from_env({"CALLENGINE_CONFIG": f.name})
    finally:
        Path(f.name).unlink()


def test_configmap_is_a_settings_file_the_strict_loader_accepts() -> None:
    settings = _settings_from_configmap(documents("kuberay.yaml"))
    assert settings.host.bind_host == "0.0.0.0" and settings.host.port == 8765
    # Every container reads that file.
    for template in pod_templates(raycluster()).values():
        for container in template["spec"]["containers"]:
            assert {"name": "CALLENGINE_CONFIG", "value": "/etc/callengine/callengine.toml"} in container[
                "env"
            ]


def test_secret_keys_are_settings_and_every_container_reads_them() -> None:
    (secret,) = by_kind(documents("secret.example.yaml"), "Secret")
    keys = set(secret["stringData"])
    assert keys <= env_names(), keys - env_names()
    assert {"DATABASE_URL", "CALLENGINE_ENCRYPTION_KEYS", "TWILIO_AUTH_TOKEN", "OPENAI_API_KEY"} <= keys
    name = secret["metadata"]["name"]
    for template in pod_templates(raycluster()).values():
        for container in template["spec"]["containers"]:
            assert {"secretRef": {"name": name}} in container["envFrom"], container["name"]
