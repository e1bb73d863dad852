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

from engine.config import Secret, Settings, fields
from engine.config_checks import host_ports
from engine.telephony import public_url

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


@pytest.mark.parametrize("name", ["kuberay.yaml", "secret.example.yaml", "db-upgrade.yaml"])
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
    worker_settings = node_settings("call-workers", "ray-worker")
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
    assert media_svc["spec"]["ports"][0]["port"] == worker_settings.host.port
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
    assert worker["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": worker_settings.host.port}


def _settings_from_configmap(docs: list[dict[str, Any]]) -> Settings:
    (cm,) = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"] == "callengine-config"]
    return _load_toml(cm["data"]["callengine.toml"])


def _load_toml(text: str, env: dict[str, str] | None = None) -> Settings:
    """Settings from ``text`` as the settings file; with ``env``, as a node with those variables sees them."""
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(text)
    try:
        shipped = Settings.from_env({"CALLENGINE_CONFIG": f.name})
        return shipped if env is None else shipped.on_this_node({**env, "CALLENGINE_CONFIG": f.name})
    finally:
        Path(f.name).unlink()


def container_env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def node_settings(group: str, container: str) -> Settings:
    """The settings an actor on that pod runs with: the ConfigMap, then the pod's own variables."""
    docs = documents("kuberay.yaml")
    (cm,) = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"] == "callengine-config"]
    env = container_env(containers(pod_templates(raycluster())[group])[container])
    env = {k: v for k, v in env.items() if k != "CALLENGINE_SECRETS_DIR"}  # not mounted here
    return _load_toml(cm["data"]["callengine.toml"], env)


def test_configmap_is_a_settings_file_the_strict_loader_accepts() -> None:
    settings = _settings_from_configmap(documents("kuberay.yaml"))
    assert settings.database.app_url and settings.database.url is None  # no owner in the runtime
    # Every container reads that file.
    for template in [*pod_templates(raycluster()).values(), job()["spec"]["template"]]:
        for container in template["spec"]["containers"]:
            assert {"name": "CALLENGINE_CONFIG", "value": "/etc/callengine/callengine.toml"} in container[
                "env"
            ]


def test_each_call_worker_says_where_twilio_reaches_it() -> None:
    """The worker pods' own host settings (not the ConfigMap's) reach their SessionHosts."""
    shipped = _settings_from_configmap(documents("kuberay.yaml"))
    node = node_settings("call-workers", "ray-worker")
    assert shipped.host.public_url_template != node.host.public_url_template
    assert (node.host.bind_host, node.host.port) == ("0.0.0.0", 8765)
    assert node.host.sessions_per_host == shipped.host.sessions_per_host  # cluster-wide
    url = public_url.render(node.host.public_url_template, node_ip="10.8.1.23", port=8765, host_id="h")
    assert url == "wss://calls.example.com/10.8.1.23/8765"
    # The proxy routes that URL's media and status paths back to this pod's port.
    conf = (DEPLOY / "nginx" / "callengine.conf").read_text(encoding="utf-8")
    route = nginx_route(conf)
    path = url.removeprefix("wss://calls.example.com")
    for kind in ("media", "status"):
        match = route.match(f"{path}/{kind}/0b6f8a52-3c1e-4d0e-9a57-1f2e3d4c5b6a")
        assert match and match.group("callengine_upstream_ip") == "10.8.1.23"
        assert nginx_port_allowed(conf, int(match.group("callengine_upstream_port")))
    assert route.match(f"{path}/voice")  # the caller id's voice URL on this host (call-backs)
    assert route.match(f"{path}/openai/sip")  # OpenAI's SIP webhook (any host takes it)
    assert not route.match(f"{path}/healthz") and not route.match("/10.8.1.23:8765/media/x")
    assert not nginx_port_allowed(conf, 22)


def nginx_route(conf: str) -> re.Pattern[str]:
    """The recipe's routing location as a Python pattern (PCRE's (?<name> is Python's (?P<name>)."""
    (pattern,) = re.findall(r'^\s*location ~ "(.+)" \{$', conf, re.MULTILINE)
    return re.compile(pattern.replace("(?<", "(?P<"))


def nginx_port_allowed(conf: str, port: int) -> bool:
    block = conf.split("map $callengine_upstream_port $callengine_port_allowed {", 1)[1].split("}", 1)[0]
    for line in block.splitlines():
        entry = line.split("#", 1)[0].split()
        if len(entry) == 2 and entry[0] != "default" and entry[1] == "1;":
            key = entry[0]
            if (key.startswith("~") and re.search(key[1:], str(port))) or key == str(port):
                return True
    return False


def job() -> dict[str, Any]:
    (j,) = by_kind(documents("db-upgrade.yaml"), "Job")
    return j


def _secret_fields() -> set[str]:
    return {info.env for info in fields() if isinstance(info.default, Secret)}


def test_secrets_are_files_every_engine_container_reads_and_nothing_else_is_in_them() -> None:
    secrets = {s["metadata"]["name"]: s for s in by_kind(documents("secret.example.yaml"), "Secret")}
    runtime = set(secrets["callengine-secrets"]["stringData"])
    # Only secret settings (which are read from files) and Ray's token: anything else in a
    # secrets directory would be silently ignored.
    assert runtime <= _secret_fields() | {"RAY_AUTH_TOKEN"}, runtime - _secret_fields()
    assert {"CALLENGINE_ENCRYPTION_KEYS", "TWILIO_AUTH_TOKEN", "OPENAI_API_KEY", "RAY_AUTH_TOKEN"} <= runtime
    assert set(secrets["callengine-db-owner"]["stringData"]) == {"DATABASE_URL"}
    templates = [*pod_templates(raycluster()).values(), job()["spec"]["template"]]
    for template in templates:
        volumes = {v["name"]: v for v in template["spec"]["volumes"]}
        for container in template["spec"]["containers"]:
            assert "envFrom" not in container, container["name"]
            env = container_env(container)
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            secret_dir = env["CALLENGINE_SECRETS_DIR"]
            assert volumes[mounts[secret_dir]]["secret"]["secretName"] == "callengine-secrets"
            if "RAY_AUTH_MODE" in env:
                assert env["RAY_AUTH_TOKEN_PATH"] == f"{secret_dir}/RAY_AUTH_TOKEN"
            refs = [e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e]
            # The owner's URL reaches the schema Job only.
            assert refs == (["callengine-db-owner"] if template is templates[-1] else []), container["name"]


def test_the_tls_proxy_runs_the_recipe_with_its_certificate_behind_the_calls_service() -> None:
    docs = documents("kuberay.yaml")
    conf = (DEPLOY / "nginx" / "callengine.conf").read_text(encoding="utf-8")
    (cm,) = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"] == "callengine-proxy"]
    assert cm["data"]["callengine.conf"] == conf, (
        "the ConfigMap is deploy/nginx/callengine.conf as checked in"
    )
    (proxy,) = by_kind(docs, "Deployment")
    spec = proxy["spec"]["template"]["spec"]
    (nginx,) = spec["containers"]
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert nginx["image"] == f"registry.example.com/callengine-proxy:{version}"
    assert spec["securityContext"]["runAsNonRoot"] is True
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in nginx["volumeMounts"]}
    assert mounts["/etc/callengine-proxy/sites"]["configMap"]["name"] == "callengine-proxy"
    tls = mounts["/etc/callengine-proxy/tls"]["secret"]["secretName"]
    for key in ("tls.crt", "tls.key"):  # a kubernetes.io/tls Secret's keys, where the recipe looks
        assert f"/etc/callengine-proxy/tls/{key};" in conf
    assert tls == "callengine-proxy-tls"
    (calls,) = [d for d in by_kind(docs, "Service") if d["metadata"]["name"] == "callengine-calls"]
    assert calls["spec"]["type"] == "LoadBalancer"
    assert calls["spec"]["selector"].items() <= proxy["spec"]["template"]["metadata"]["labels"].items()
    (port,) = calls["spec"]["ports"]
    assert port["port"] == 443 and {"containerPort": 443, "name": port["targetPort"]} in nginx["ports"]
    assert "listen 443 ssl;" in conf


def test_ray_cluster_yaml_workers_bind_the_range_the_recipe_allows() -> None:
    config = yaml.safe_load((ROOT / "ray_cluster.yaml").read_text(encoding="utf-8"))
    options = " ".join(config["docker"]["worker_run_options"])
    env = dict(re.findall(r"--env '?([A-Z_]+)=([^' ]+)'?", options))
    node = Settings().on_this_node(env)
    ports = host_ports(node.host)
    assert ports is not None and node.host.bind_host == "0.0.0.0"
    workers = [t for name, t in config["available_node_types"].items() if name != config["head_node_type"]]
    assert all(t["resources"]["call_hub"] <= len(ports) for t in workers), "a port for every host"
    conf = (DEPLOY / "nginx" / "callengine.conf").read_text(encoding="utf-8")
    assert all(nginx_port_allowed(conf, p) for p in ports)
    assert not nginx_port_allowed(conf, ports.stop)
    url = public_url.render(node.host.public_url_template, node_ip="10.0.7.9", port=ports[0], host_id="h")
    assert nginx_route(conf).match(url.split("example.com", 1)[1] + "/media/x")
