"""Where Twilio reaches one SessionHost: ``CALLENGINE_PUBLIC_URL_TEMPLATE`` and its placeholders.

A host's public URL is the base of its media stream (``<base>/media/<session>``)
and status callback (``https://…/status/<session>``) URLs. Twilio signs the URL
it requests, so the host checks signatures against this same public URL, never
against the path a proxy forwards.

Placeholders (nothing else; a template is refused when settings load and again at
host start, with the bad placeholder named):

``{node_ip}``
    The address of the host's node: the bind address when it names one
    (``CALLENGINE_BIND_HOST=10.0.3.7``), else the node's IP as Ray knows it (a
    wildcard bind such as ``0.0.0.0``). An IPv6 address is bracketed when it
    stands in the URL's authority.
``{port}``
    The port the host's listener bound: ``CALLENGINE_HOST_PORT``, the first
    free port of ``CALLENGINE_HOST_PORT_RANGE``, or one the OS picked.
``{host_id}``
    The SessionHost's id (``callengine-host-…``), unique in the cluster.

Several hosts on one node differ by ``{port}``; ``{node_ip}`` and ``{port}``
together name one host, which is what the nginx recipe in ``deploy/nginx/`` routes
by: ``wss://calls.example.com/{node_ip}/{port}``.
"""

from __future__ import annotations

import difflib
import ipaddress
import socket
import string
from collections.abc import Mapping
from urllib.parse import urlsplit

from engine.errors import ConfigError

ENV = "CALLENGINE_PUBLIC_URL_TEMPLATE"
PLACEHOLDERS: Mapping[str, str] = {
    "node_ip": "the node's address (the bind address, or the node's IP for a wildcard bind)",
    "port": "the port the host's listener bound",
    "host_id": "the SessionHost's id",
}
_HINTS = {
    "host": "{host} was the bind address; {node_ip} is the node's address",
    "node_id": "a node runs several hosts: route by {node_ip}/{port} (or {host_id})",
}
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::", "[::]"})
_SAMPLE = {"node_ip": "10.0.0.1", "port": "8765", "host_id": "callengine-host-0123456789"}


def placeholders(template: str) -> frozenset[str]:
    """The placeholders ``template`` uses; ConfigError naming the first one that does not exist."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(
            f"{ENV}: {template!r} is not a template ({exc}); write a literal brace as {{{{"
        ) from exc
    used = set()
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            close = difflib.get_close_matches(name, list(PLACEHOLDERS), n=1, cutoff=0.6)
            hint = _HINTS.get(name) or (f"did you mean {{{close[0]}}}?" if close else "")
            raise ConfigError(
                f"{ENV}: unknown placeholder {{{name}}} in {template!r}; the placeholders are {known}"
                + (f" ({hint})" if hint else "")
            )
        if spec or conversion:
            raise ConfigError(f"{ENV}: placeholder {{{name}}} takes no format spec or conversion")
        used.add(name)
    return frozenset(used)


def check(template: str) -> None:
    """Refuse a template Twilio could not use: unknown placeholders, not ws(s)://, a query string."""
    placeholders(template)
    _check_url(template.format(**_SAMPLE), template)


def _check_url(url: str, template: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ConfigError(f"{ENV}: {template!r} must be a ws:// or wss:// URL with a host")
    if parts.query or parts.fragment:
        # Twilio refuses a <Stream url> with a query string (error 31920); tokens travel as parameters.
        raise ConfigError(f"{ENV}: {template!r} must have no query string or fragment")


def render(template: str, *, node_ip: str, port: int, host_id: str) -> str:
    """The public URL of one host (no trailing slash); ConfigError as :func:`check`."""
    used = placeholders(template)
    ip = node_ip
    if "node_ip" in used and _in_authority(template) and _is_ipv6(node_ip):
        ip = f"[{node_ip}]"
    url = template.format(node_ip=ip, port=port, host_id=host_id).rstrip("/")
    _check_url(url, template)
    return url


def check_for_twilio(url: str) -> None:
    """Refuse a ``ws://`` URL off loopback: Twilio opens ``wss://`` media streams only.

    For hosts that real Twilio calls (not an emulator): a plain URL on loopback is a local
    trial with nothing to reach it from outside anyway.
    """
    parts = urlsplit(url)
    if parts.scheme == "wss" or _is_loopback(parts.hostname or ""):
        return
    raise ConfigError(
        f"{ENV}: {url} is ws://, but Twilio opens wss:// media streams only; put a TLS proxy in "
        "front of the hosts (deploy/nginx) and use e.g. wss://calls.example.com/{node_ip}/{port}"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _in_authority(template: str) -> bool:
    """True when ``{node_ip}`` stands between ``scheme://`` and the path."""
    _, _, rest = template.partition("://")
    return "{node_ip}" in rest.split("/", 1)[0]


def _is_ipv6(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).version == 6
    except ValueError:
        return False


def node_address(bind_host: str, node_ip: str | None = None) -> str:
    """What ``{node_ip}`` means for a host bound to ``bind_host`` (see the module docstring).

    ``node_ip`` is the node's IP as the caller knows it (a Ray actor passes Ray's);
    without one, the address this machine's name resolves to.
    """
    if bind_host not in WILDCARD_BINDS:
        return bind_host.strip("[]")
    if node_ip:
        return node_ip
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"
