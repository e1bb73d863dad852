"""Settings: one typed object, read from the environment (and an optional TOML file) in one place.

Precedence: environment variable > TOML file (``CALLENGINE_CONFIG``) > default.
Each section is a frozen dataclass (:mod:`engine.config_sections`). Every field is
declared with :func:`setting` (:mod:`engine.config_fields`), which carries its
environment variable and its documentation: the loader (here), the
strictness checks, ``callengine config example`` (checked in as
``callengine.example.toml``) and ``callengine config show`` are all derived from
those declarations, so a new field needs nothing else (``tests/unit/test_config.py``
fails when a field lacks them or the example drifts). The checks across fields
are in :mod:`engine.config_checks`. Secrets are wrapped in :class:`Secret`
(:mod:`engine.config_secrets`) so they never show up in ``repr`` or logs.

Strict: an unknown ``[section]`` or key in the file, or an unknown ``CALLENGINE_*``
variable, is a :class:`ConfigError` naming the nearest valid name.

Components receive the section they need (``settings.twilio``, ...) and never
read ``os.environ`` themselves.

How a process gets its secrets (every :class:`Secret` field): from its own
node, never from another process. A secret is looked up, in order, in a file
named by ``<NAME>_FILE`` (``TWILIO_AUTH_TOKEN_FILE=/run/secrets/twilio``), a
file ``<NAME>`` in the directory ``CALLENGINE_SECRETS_DIR`` (a mounted
Kubernetes secret), the environment variable ``<NAME>``, then the TOML file.
When Ray pickles settings to start an actor, each secret travels as its *name*
only (:meth:`Secret.__reduce__`) and is looked up again, the same way, on the
node where the actor is unpickled; a worker node's own environment or mounted
secret therefore decides, and no secret value ever sits in Ray's object store,
GCS or ``runtime_env``. See :meth:`Settings.on_this_node` for the rest.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from engine.config_checks import validate, validate_host
from engine.config_fields import FieldInfo, check_env, check_file, declared_fields, declared_sections, setting
from engine.config_secrets import SECRETS_DIR_ENV, Secret, node_secret, publish_secrets, secret_from_env
from engine.config_sections import (
    ApiSettings,
    DatabaseSettings,
    DispatchSettings,
    EventSettings,
    HostSettings,
    OpenAISettings,
    SessionSettings,
    TwilioSettings,
)
from engine.errors import ConfigError

__all__ = [
    "CONFIG_ENV",
    "SECRETS_DIR_ENV",
    "ApiSettings",
    "DatabaseSettings",
    "DispatchSettings",
    "EventSettings",
    "HostSettings",
    "OpenAISettings",
    "Secret",
    "SessionSettings",
    "Settings",
    "TwilioSettings",
    "env_names",
    "fields",
    "node_secret",
    "publish_secrets",
    "sections",
]


@dataclasses.dataclass(frozen=True)
class Settings:
    """Top-level settings; each section is a [table] in the TOML file."""

    database: DatabaseSettings = dataclasses.field(default_factory=DatabaseSettings)
    twilio: TwilioSettings = dataclasses.field(default_factory=TwilioSettings)
    openai: OpenAISettings = dataclasses.field(default_factory=OpenAISettings)
    session: SessionSettings = dataclasses.field(default_factory=SessionSettings)
    host: HostSettings = dataclasses.field(default_factory=HostSettings)
    dispatch: DispatchSettings = dataclasses.field(default_factory=DispatchSettings)
    api: ApiSettings = dataclasses.field(default_factory=ApiSettings)
    events: EventSettings = dataclasses.field(default_factory=EventSettings)
    ray_address: str | None = setting(
        None, env="RAY_ADDRESS", doc="Join this Ray cluster (ray://head:10001 or auto); unset → a local Ray."
    )
    analysis_config: str | None = setting(
        None,
        env="CALLENGINE_ANALYSIS_CONFIG",
        doc="TOML file overriding the analysis thresholds and weights (engine/analysis/config.py); "
        "unset → the documented defaults.",
    )
    clock_offset_file: str | None = setting(
        None,
        env="CALLENGINE_CLOCK_OFFSET_FILE",
        doc="Demo and tests only: a file holding a wall-clock offset in seconds (e.g. -1814400) that "
        "every engine process adds to the date it stores and decides by, re-read when replaced. "
        "Refused unless purely local (embedded database, no RAY_ADDRESS).",
    )
    secrets_dir: str | None = setting(
        None,
        env=SECRETS_DIR_ENV,
        doc="Directory of secret files named like their variables (TWILIO_AUTH_TOKEN, …), e.g. a "
        "mounted Kubernetes secret; read on each node.",
    )

    def on_this_node(self, env: Mapping[str, str] | None = None) -> Settings:
        """These settings as this node sees them (every Ray actor calls it first).

        Cluster-wide settings come from the process that started the engine (they travel
        with the actor); where this node listens and how Twilio reaches it (the ``host``
        section) come from this node's own environment when it sets them, and secrets were
        already looked up on this node when the settings were unpickled.
        """
        env = os.environ if env is None else env
        node = Settings.from_env(env)
        changed = {
            f.name: getattr(node.host, f.name)
            for f in dataclasses.fields(HostSettings)
            if _ENV_NAMES[("host", f.name)] in env
        }
        if not changed:
            return self
        # This node's own choice of port (a fixed one or a range) replaces the other kind.
        if "port" in changed and "port_range" not in changed:
            changed["port_range"] = ""
        elif "port_range" in changed and "port" not in changed:
            changed["port"] = 0
        host = dataclasses.replace(self.host, **changed)
        validate_host(host)
        return dataclasses.replace(self, host=host)

    @property
    def purely_local(self) -> bool:
        """One machine, nothing shared: no Ray cluster to join and the embedded database."""
        return not self.ray_address and not self.database.url and not self.database.app_url

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default ``os.environ``) and the optional TOML file."""
        env = os.environ if env is None else env
        file_values: dict[str, Any] = {}
        path = env.get(CONFIG_ENV)
        if path:
            try:
                file_values = tomllib.loads(Path(path).read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"{CONFIG_ENV}={path}: cannot read TOML: {exc}") from exc
        return _load(cls, env, file_values, source=path or "")


CONFIG_ENV = "CALLENGINE_CONFIG"

# CALLENGINE_* variables that are not settings fields but are still known names.
OTHER_ENV: dict[str, str] = {
    CONFIG_ENV: "path of the TOML settings file",
    "CALLENGINE_TEST_DATABASE_URL": "tests only: run the storage tests against this external server too",
    "CALLENGINE_CHROMIUM": "tests only: the Chromium binary the report rendering test uses",
    "RAY_AUTH_TOKEN": "Ray's cluster token (read by Ray itself on every node, with RAY_AUTH_MODE=token)",
}
STRICT_PREFIX = "CALLENGINE_"


def sections() -> dict[str, str]:
    """Section name → its one-line description, in declaration order."""
    return declared_sections(Settings)


def fields() -> Iterator[FieldInfo]:
    """Every settings field in declaration order: top-level fields first, then each section's."""
    return declared_fields(Settings)


def env_names() -> set[str]:
    """Every environment variable the engine reads (settings fields, ``<SECRET>_FILE``, :data:`OTHER_ENV`)."""
    names = {info.env for info in fields()} | set(OTHER_ENV)
    return names | {f"{info.env}_FILE" for info in fields() if isinstance(info.default, Secret)}


def _convert(name: str, raw: Any, default: Any, annotation: str = "") -> Any:
    """Convert a raw env/TOML value to the type of the field's default (or its annotation)."""
    try:
        if isinstance(default, Secret):
            return Secret(str(raw), name.split(" (")[-1].rstrip(")"))
        if isinstance(default, bool):
            if isinstance(raw, bool):
                return raw
            value = str(raw).strip().lower()
            if value in ("1", "true", "yes", "on"):
                return True
            if value in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"expected a boolean, got {raw!r}")
        if isinstance(default, int):
            if isinstance(raw, float | bool):
                raise ValueError(f"expected an integer, got {raw!r}")
            return int(raw)
        if isinstance(default, float):
            if isinstance(raw, bool):
                raise ValueError(f"expected a number, got {raw!r}")
            value_f = float(raw)
            if value_f != value_f or value_f in (float("inf"), float("-inf")):
                raise ValueError("must be finite")
            return value_f
        if isinstance(default, tuple):
            items = raw if isinstance(raw, list) else [p for p in str(raw).split(",") if p.strip()]
            if (default and isinstance(default[0], str)) or annotation.startswith("tuple[str"):
                return tuple(str(p).strip() for p in items)
            return tuple(float(p) for p in items)
        if isinstance(default, Path):
            return Path(str(raw)).expanduser()
        if isinstance(raw, dict | list | bool | int | float):
            raise ValueError(f"expected a string, got {raw!r}")
        if raw == "":
            return None if default is None else ""
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}: invalid value: {exc}") from exc


def _load(
    cls: type[Settings], env: Mapping[str, str], file_values: dict[str, Any], *, source: str = ""
) -> Settings:
    check_env(env, env_names(), STRICT_PREFIX)
    check_file(file_values, f"{CONFIG_ENV}={source}" if source else "config file", cls)
    by_section: dict[str, dict[str, Any]] = {}
    top: dict[str, Any] = {}
    for info in declared_fields(cls):
        from_file = (file_values.get(info.section) or {}) if info.section else file_values
        secret = isinstance(info.default, Secret)
        raw = secret_from_env(info.env, env) if secret else env.get(info.env)
        name = info.env
        if raw is None:
            raw = from_file.get(info.name)
            name = f"{info.key} ({info.env})"
        if raw is None:
            continue
        value = _convert(name, raw, info.default if info.default is not None else "", info.annotation)
        if info.section:
            by_section.setdefault(info.section, {})[info.name] = value
        else:
            top[info.name] = value
    defaults = cls()
    built = {name: dataclasses.replace(getattr(defaults, name), **vals) for name, vals in by_section.items()}
    settings = dataclasses.replace(defaults, **built, **top)
    validate(settings)
    return settings


# (section, field) → environment variable ("" for a top-level field), derived from the
# declarations above for code that looks a variable up by field. Never edit it: declare the
# field with setting(env=...) instead.
_ENV_NAMES: dict[tuple[str, str], str] = {(i.section, i.name): i.env for i in fields()}
_FIELD_OF: dict[str, tuple[str, str]] = {env: key for key, env in _ENV_NAMES.items()}
