"""Secrets: the :class:`Secret` value, and how a process finds its secrets on its own node
(see :mod:`engine.config`'s docstring).

A :class:`Secret` pickles as its variable name; :func:`node_secret`
is what unpickling calls, in whichever process (Ray worker, node) receives it.
:func:`publish_secrets` lets a driver that built secrets in code share them with
local workers through a private directory.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import ConfigError

if TYPE_CHECKING:
    from engine.config import Settings

SECRETS_DIR_ENV = "CALLENGINE_SECRETS_DIR"
"""Directory of secret files named like the variables (a mounted Kubernetes secret)."""


class Secret:
    """A string that hides itself from repr/str. Use ``.get()`` to read it.

    ``name`` is the environment variable it is read from (set by the settings
    loader and by every section for its own fields). Pickling keeps only the
    name: the receiving process looks the value up on its own node
    (:func:`node_secret`), so a secret never travels inside a pickled object.
    A secret without a name refuses to be pickled.
    """

    __slots__ = ("_value", "name")

    def __init__(self, value: str, name: str = "") -> None:
        self._value = value
        self.name = name

    def named(self, name: str) -> Secret:
        return self if self.name == name else Secret(self._value, name)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        if not self.name:
            raise ConfigError("a secret without a settings name cannot leave this process")
        return (node_secret, (self.name,))

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def node_secret(name: str, env: Mapping[str, str] | None = None) -> Secret:
    """The secret ``name`` as this node holds it (see the module docstring); empty when it has none."""
    from engine.config import _FIELD_OF, CONFIG_ENV

    env = os.environ if env is None else env
    raw = secret_from_env(name, env)
    if raw is None:
        path = env.get(CONFIG_ENV)
        if path:
            section, field = _FIELD_OF[name]
            try:
                values = tomllib.loads(Path(path).read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"{CONFIG_ENV}={path}: cannot read TOML: {exc}") from exc
            table = values.get(section, {}) if section else values
            found = table.get(field) if isinstance(table, dict) else None
            raw = None if found is None else str(found)
    return Secret(raw or "", name)


def secret_from_env(name: str, env: Mapping[str, str]) -> str | None:
    """``<NAME>_FILE``, then ``$CALLENGINE_SECRETS_DIR/<NAME>``, then ``<NAME>``; None if none."""
    file_path = env.get(f"{name}_FILE")
    if not file_path:
        secrets_dir = env.get(SECRETS_DIR_ENV)
        candidate = Path(secrets_dir) / name if secrets_dir else None
        if candidate is None or not candidate.is_file():
            return env.get(name)
        file_path = str(candidate)
    try:
        # A trailing newline is how most tools write files; it is never part of a key.
        return Path(file_path).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"{name}_FILE: cannot read {file_path}: {type(exc).__name__}") from exc


def publish_secrets(settings: Settings, directory: Path) -> Path:
    """Write every non-empty secret of ``settings`` as ``directory/<NAME>`` (mode 0600).

    For drivers that build secrets in code (tests, the demo, benchmarks) and start
    local Ray workers: with ``CALLENGINE_SECRETS_DIR`` pointing at ``directory`` in
    the workers' environment, they find the same values on this node.
    """
    from engine.config import _ENV_NAMES

    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    for section_name, field_name, secret in _secrets_of(settings):
        if not secret.get():
            continue
        name = _ENV_NAMES[(section_name, field_name)]
        target = directory / name
        tmp = directory / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secret.get())
        os.replace(tmp, target)
    return directory


def _secrets_of(settings: Settings) -> list[tuple[str, str, Secret]]:
    found = []
    for section in dataclasses.fields(settings):
        value = getattr(settings, section.name)
        if dataclasses.is_dataclass(value):
            for f in dataclasses.fields(value):
                item = getattr(value, f.name)
                if isinstance(item, Secret):
                    found.append((section.name, f.name, item))
    return found
