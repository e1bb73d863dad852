"""Webhook endpoints from the settings: ``name=https://…`` plus ``name=whsec_…`` signing secrets.

An endpoint's *name* is what jobs, metrics and the dead-letter view carry (never the
URL, which may hold a token in its query, and never a secret). Parsing is strict:
every problem is a :class:`~engine.errors.ConfigError` naming the endpoint.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
import urllib.parse
from collections.abc import Sequence

from engine.errors import ConfigError

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
_ENDPOINTS = "CALLENGINE_WEBHOOK_ENDPOINTS"
_SECRETS = "CALLENGINE_WEBHOOK_SECRETS"


@dataclasses.dataclass(frozen=True)
class Endpoint:
    name: str
    url: str
    secrets: tuple[bytes, ...] = dataclasses.field(repr=False)
    """Decoded signing keys; every one signs each delivery (rotation)."""

    def __repr__(self) -> str:
        return f"Endpoint({self.name!r}, secrets={len(self.secrets)})"


def decode_secret(value: str, where: str) -> bytes:
    """The key bytes of a ``whsec_<base64>`` secret (Standard Webhooks: 24–64 bytes)."""
    if not value.startswith(SECRET_PREFIX):
        raise ConfigError(f"{_SECRETS}: the secret of {where} must start with {SECRET_PREFIX}")
    try:
        key = base64.b64decode(value[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigError(f"{_SECRETS}: the secret of {where} is not base64") from exc
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ConfigError(
            f"{_SECRETS}: the secret of {where} must decode to {MIN_SECRET_BYTES}–{MAX_SECRET_BYTES} bytes"
        )
    return key


def _pairs(items: Sequence[str], what: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        name, sep, value = item.strip().partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not value:
            raise ConfigError(f"{what}: entries are name=value (got an entry without '=')")
        if not NAME_RE.fullmatch(name):
            raise ConfigError(f"{what}: endpoint name {name!r} must be 1–32 of a-z, 0-9, '_' or '-'")
        out.append((name, value))
    return out


def _check_url(name: str, url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ConfigError(f"{_ENDPOINTS}: {name} must be an https:// URL with a host")
    if parts.username or parts.password or parts.fragment:
        raise ConfigError(f"{_ENDPOINTS}: {name} must not carry credentials or a fragment")
    return url


def parse_endpoints(endpoints: Sequence[str], secrets: object) -> dict[str, Endpoint]:
    """Endpoints by name; ``secrets`` is the :class:`~engine.config.Secret` of the signing keys."""
    raw_secrets = secrets.get() if hasattr(secrets, "get") else str(secrets or "")
    urls: dict[str, str] = {}
    for name, url in _pairs(endpoints, _ENDPOINTS):
        if name in urls:
            raise ConfigError(f"{_ENDPOINTS}: endpoint {name} is listed twice")
        urls[name] = _check_url(name, url)
    keys: dict[str, list[bytes]] = {}
    secret_items = [p for p in str(raw_secrets).split(",") if p.strip()]
    for name, value in _pairs(secret_items, _SECRETS):
        key = decode_secret(value, name)  # every secret well-formed, used or not
        # A secret of an endpoint not listed here is ignored: secrets are looked up on each node
        # (a mounted secret may serve several deployments), the endpoint list travels with the engine.
        if name in urls:
            keys.setdefault(name, []).append(key)
    missing = sorted(set(urls) - set(keys))
    if missing:
        raise ConfigError(f"{_SECRETS}: endpoint {missing[0]} has no signing secret")
    return {name: Endpoint(name, url, tuple(keys[name])) for name, url in urls.items()}
