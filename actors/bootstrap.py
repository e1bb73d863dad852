"""Start and stop the engine's cluster-side actors: Dispatcher and Reporter.

``start_engine(settings)`` is idempotent (``get_if_exists``): running it again,
from ``callengine serve`` on any node or from the demo, finds the same named
detached actors. SessionHosts are started by the Dispatcher as calls need them;
the analysis pools live with the Dispatcher.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ray

from actors import _ray
from actors.dispatcher import DispatcherActor
from actors.process import local_secrets_dir, share_secrets
from actors.reporter import ReporterActor
from engine.config import Settings
from engine.logs import get_logger

log = get_logger(__name__)


@dataclass
class EngineHandles:
    dispatcher: Any
    reporter: Any | None


def ensure_ray(settings: Settings, **init_kwargs: Any) -> None:
    """Join ``RAY_ADDRESS`` or start a local Ray, unless this process is already connected.

    A local Ray's workers find this driver's secrets in its private directory
    (:func:`actors.process.local_secrets_dir`, named in the environment they inherit);
    a cluster's workers use their own node's environment or mounted secrets.
    """
    if ray.is_initialized():
        return
    if settings.ray_address:
        ray.init(address=settings.ray_address, namespace=_ray.NAMESPACE, **init_kwargs)
    else:
        local_secrets_dir()
        ray.init(namespace=_ray.NAMESPACE, **init_kwargs)


def start_engine(
    settings: Settings,
    *,
    call_host_factory: str | None = None,
    dispatcher_overrides: dict[str, Any] | None = None,
    analysis: bool = True,
    reporter: bool = True,
    timeout: float = 120.0,
) -> EngineHandles:
    """Start (or find) the Dispatcher and the Reporter; returns once both answer."""
    ensure_ray(settings)
    share_secrets(settings)
    control = _ray.control_resources()
    dispatcher_cls: Any = ray.remote(DispatcherActor)
    dispatcher = dispatcher_cls.options(
        name=_ray.DISPATCHER_NAME,
        namespace=_ray.NAMESPACE,
        lifetime="detached",
        get_if_exists=True,
        max_restarts=-1,
        max_task_retries=-1,
        num_cpus=0,
        max_concurrency=1000,
        resources=control,
    ).remote(settings, call_host_factory, dispatcher_overrides, analysis)
    _ray.get_sync(dispatcher.ping.remote(), "dispatcher start", timeout)
    rep = None
    if reporter:
        reporter_cls: Any = ray.remote(ReporterActor)
        rep = reporter_cls.options(
            name=_ray.REPORTER_NAME,
            namespace=_ray.NAMESPACE,
            lifetime="detached",
            get_if_exists=True,
            max_restarts=-1,
            num_cpus=0,
            resources=control,
        ).remote(settings)
        _ray.get_sync(rep.ready.remote(), "reporter start", timeout)
    log.info("engine actors up in namespace %s", _ray.NAMESPACE)
    return EngineHandles(dispatcher, rep)


bootstrap = start_engine  # the name `callengine serve` looks for


def stop_engine(*, drain_hosts: bool = True, timeout: float = 120.0) -> None:
    """Stop the Dispatcher (draining hosts), the Reporter and any remaining hosts."""
    for name, call in ((_ray.DISPATCHER_NAME, "stop"), (_ray.REPORTER_NAME, "stop")):
        try:
            handle = _ray.get_actor(name)
        except Exception:
            continue
        try:
            args = (drain_hosts,) if name == _ray.DISPATCHER_NAME else ()
            _ray.get_sync(getattr(handle, call).remote(*args), f"{name} stop", timeout)
        except Exception as exc:
            log.warning("%s did not stop cleanly: %s", name, exc)
        _ray.kill(handle)
    for name in _ray.named_actors(_ray.HOST_PREFIX):
        try:
            _ray.kill(_ray.get_actor(name))
        except Exception:
            pass
