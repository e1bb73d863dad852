"""Settings: one typed object, read from the environment (and an optional TOML file) in one place.

Precedence: environment variable > TOML file (``CALLENGINE_CONFIG``) > default.
Each section is a frozen dataclass. Every field is declared with :func:`setting`,
which carries its environment variable and its documentation: the loader, the
strictness checks, ``callengine config example`` (checked in as
``callengine.example.toml``) and ``callengine config show`` are all derived from
those declarations, so a new field needs nothing else (``tests/unit/test_config.py``
fails when a field lacks them or the example drifts). Secrets are wrapped in
:class:`Secret` so they never show up in ``repr`` or logs.

Strict: an unknown ``[section]`` or key in the file, or an unknown ``CALLENGINE_*``
variable, is a :class:`ConfigError` naming the nearest valid name.

Components receive the section they need (``settings.twilio``, ...) and never
read ``os.environ`` themselves.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from engine.errors import ConfigError


class Secret:
    """A string that hides itself from repr/str. Use ``.get()`` to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

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


def setting(default: Any = dataclasses.MISSING, *, env: str, doc: str, factory: Any = None) -> Any:
    """Declare a settings field: its default, its environment variable and its documentation.

    ``doc`` becomes the comment above the key in ``callengine.example.toml``. Use
    ``factory`` (not ``default``) for a value computed per machine (it is left
    commented out in the example).
    """
    metadata = {"env": env, "doc": doc, "machine_default": factory is not None}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("callengine", appauthor=False))


@dataclasses.dataclass(frozen=True)
class DatabaseSettings:
    """PostgreSQL and the encryption keys of customer data."""

    url: str | None = setting(
        None,
        env="DATABASE_URL",
        doc="postgresql://user:pw@host:port/db of the owner role (migrations). Unset → embedded PostgreSQL.",
    )
    data_dir: Path = setting(
        env="CALLENGINE_DATA_DIR",
        doc="Where the embedded database, development keys and JWT secret live (default: the user data dir).",
        factory=default_data_dir,
    )
    pool_size: int = setting(10, env="CALLENGINE_DB_POOL_SIZE", doc="Database connections per process.")
    encryption_keys: Secret = setting(
        Secret(""),
        env="CALLENGINE_ENCRYPTION_KEYS",
        doc="AES-256-GCM key ring `kid1:base64key,kid2:base64key` (32-byte keys); required with DATABASE_URL.",
    )
    active_key_id: str = setting(
        "",
        env="CALLENGINE_ACTIVE_KEY_ID",
        doc="Key id used for new ciphertexts (empty: the last listed).",
    )
    blind_index_key: Secret = setting(
        Secret(""),
        env="CALLENGINE_BLIND_INDEX_KEY",
        doc="Base64 key of the phone-number HMAC blind index; required with DATABASE_URL.",
    )


@dataclasses.dataclass(frozen=True)
class TwilioSettings:
    """The Twilio account that places the calls."""

    account_sid: str = setting("", env="TWILIO_ACCOUNT_SID", doc="Account SID (AC…).")
    auth_token: Secret = setting(
        Secret(""), env="TWILIO_AUTH_TOKEN", doc="Auth token; also the key of X-Twilio-Signature."
    )
    api_base_url: str | None = setting(
        None,
        env="TWILIO_API_BASE_URL",
        doc="REST base URL, e.g. the emulator's http://127.0.0.1:PORT. Unset → real Twilio.",
    )
    from_number: str = setting("+46850000000", env="TWILIO_FROM_NUMBER", doc="Caller id, E.164.")
    calls_per_second: float = setting(
        1.0,
        env="TWILIO_CALLS_PER_SECOND",
        doc="The account's CPS limit, enforced by the dispatcher's token bucket.",
    )
    region: str = setting(
        "",
        env="TWILIO_REGION",
        doc="Processing region of real Twilio, e.g. ie1 (Ireland) to keep call data in the EU. "
        "Empty: us1. Keys are per region: use an API key created in it.",
    )
    edge: str = setting(
        "",
        env="TWILIO_EDGE",
        doc="Edge location the REST requests enter by, e.g. dublin; empty: the region's own edge "
        "(ie1 → dublin). Real Twilio only (the emulator's IP address would be rewritten).",
    )
    api_key_sid: str = setting(
        "",
        env="TWILIO_API_KEY_SID",
        doc="API key (SK…) for the REST calls instead of the account SID and auth token; "
        "needed outside us1, where the key must exist in TWILIO_REGION.",
    )
    api_key_secret: Secret = setting(
        Secret(""), env="TWILIO_API_KEY_SECRET", doc="Secret of TWILIO_API_KEY_SID."
    )


@dataclasses.dataclass(frozen=True)
class OpenAISettings:
    """The OpenAI project: the Realtime voice and the analysis model."""

    api_key: Secret = setting(Secret(""), env="OPENAI_API_KEY", doc="API key.")
    base_url: str | None = setting(
        None,
        env="OPENAI_BASE_URL",
        doc="API base URL ending in /v1: the emulator, or a data-residency project's regional URL. "
        "Unset → the default OpenAI endpoint.",
    )
    realtime_model: str = setting(
        "gpt-4o-mini-realtime-preview", env="OPENAI_REALTIME_MODEL", doc="Model of the spoken interview."
    )
    chat_model: str = setting("gpt-4o-mini", env="OPENAI_CHAT_MODEL", doc="Model of the post-call analysis.")
    voice: str = setting("alloy", env="OPENAI_VOICE", doc="Realtime voice.")


@dataclasses.dataclass(frozen=True)
class SessionSettings:
    """Limits of one conversation."""

    max_call_seconds: float = setting(
        180.0, env="CALLENGINE_MAX_CALL_SECONDS", doc="Hard cap on one conversation."
    )
    silence_nudge_seconds: float = setting(
        8.0, env="CALLENGINE_SILENCE_NUDGE_SECONDS", doc="Customer silence before the AI nudges."
    )
    silence_hangup_seconds: float = setting(
        20.0, env="CALLENGINE_SILENCE_HANGUP_SECONDS", doc="Customer silence before hanging up."
    )
    transcript_flush_seconds: float = setting(
        1.0,
        env="CALLENGINE_TRANSCRIPT_FLUSH_SECONDS",
        doc="Transcript lines are flushed to the database at least this often.",
    )
    opt_out_dtmf: str = setting(
        "9", env="CALLENGINE_OPT_OUT_DTMF", doc="Keypad digit that opts the customer out."
    )


@dataclasses.dataclass(frozen=True)
class HostSettings:
    """SessionHost actors: call slots and how Twilio reaches them."""

    sessions_per_host: int = setting(
        200,
        env="CALLENGINE_SESSIONS_PER_HOST",
        doc="Call slots per SessionHost; 1 = a dedicated actor process per call.",
    )
    bind_host: str = setting(
        "127.0.0.1", env="CALLENGINE_BIND_HOST", doc="Address the media/status server listens on."
    )
    port: int = setting(0, env="CALLENGINE_HOST_PORT", doc="Media/status port; 0 picks a free port per host.")
    public_url_template: str = setting(
        "ws://{host}:{port}",
        env="CALLENGINE_PUBLIC_URL_TEMPLATE",
        doc="How Twilio reaches a host; {host} and {port} are filled in.",
    )
    drain_seconds: float = setting(
        60.0, env="CALLENGINE_DRAIN_SECONDS", doc="How long a draining host lets its calls finish."
    )


@dataclasses.dataclass(frozen=True)
class DispatchSettings:
    """The dispatcher: retries, call windows, actor counts."""

    retry_backoff_seconds: tuple[float, ...] = setting(
        (600.0, 3600.0, 14400.0),
        env="CALLENGINE_RETRY_BACKOFF",
        doc="Delay before retry 1, 2, 3 (in the environment: a comma list).",
    )
    poll_seconds: float = setting(
        0.5, env="CALLENGINE_DISPATCH_POLL_SECONDS", doc="How often the queue is polled when idle."
    )
    respect_call_windows: bool = setting(
        True,
        env="CALLENGINE_RESPECT_CALL_WINDOWS",
        doc="Call only within each store's calling hours; false only for demos and tests.",
    )
    assessor_actors: int = setting(2, env="CALLENGINE_ASSESSOR_ACTORS", doc="Assessment pool actors.")
    fraud_actors: int = setting(2, env="CALLENGINE_FRAUD_ACTORS", doc="Fraud-check pool actors.")
    max_hosts: int = setting(
        64, env="CALLENGINE_MAX_HOSTS", doc="Upper bound on SessionHost actors the dispatcher starts."
    )
    min_hosts: int = setting(1, env="CALLENGINE_MIN_HOSTS", doc="SessionHosts kept running even when idle.")
    host_idle_seconds: float = setting(
        300.0,
        env="CALLENGINE_HOST_IDLE_SECONDS",
        doc="An empty host beyond min_hosts drains and exits after this.",
    )


@dataclasses.dataclass(frozen=True)
class ApiSettings:
    """The gRPC front door."""

    port: int = setting(50051, env="CALLENGINE_GRPC_PORT", doc="gRPC port.")
    jwt_secret: Secret = setting(
        Secret(""),
        env="CALLENGINE_JWT_SECRET",
        doc="HS256 key of bearer tokens (empty: a development key generated in the data dir).",
    )
    jwt_issuer: str = setting("callengine", env="CALLENGINE_JWT_ISSUER", doc="Expected token issuer.")
    bind_host: str = setting(
        "0.0.0.0", env="CALLENGINE_GRPC_BIND_HOST", doc="Address the gRPC server listens on."
    )
    max_in_flight: int = setting(
        256,
        env="CALLENGINE_GRPC_MAX_IN_FLIGHT",
        doc="Unary requests handled at once; more → RESOURCE_EXHAUSTED.",
    )
    max_watch_streams: int = setting(
        1000,
        env="CALLENGINE_GRPC_MAX_WATCH_STREAMS",
        doc="Open WatchCall streams at once; more → RESOURCE_EXHAUSTED.",
    )
    max_message_bytes: int = setting(
        4 * 1024 * 1024,
        env="CALLENGINE_GRPC_MAX_MESSAGE_BYTES",
        doc="Largest request/response message accepted.",
    )
    shutdown_grace_seconds: float = setting(
        10.0,
        env="CALLENGINE_GRPC_SHUTDOWN_GRACE",
        doc="How long in-flight requests may finish on shutdown.",
    )


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
    ray_address: str | None = setting(
        None, env="RAY_ADDRESS", doc="Join this Ray cluster (ray://head:10001 or auto); unset → a local Ray."
    )
    analysis_config: str | None = setting(
        None,
        env="CALLENGINE_ANALYSIS_CONFIG",
        doc="TOML file overriding the analysis thresholds and weights (engine/analysis/config.py); "
        "unset → the documented defaults.",
    )

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
}
STRICT_PREFIX = "CALLENGINE_"


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    """One settings field as the loader, the example and ``config show`` see it."""

    section: str  # "" for a top-level field
    name: str
    env: str
    doc: str
    default: Any
    machine_default: bool

    @property
    def key(self) -> str:
        return f"{self.section}.{self.name}" if self.section else self.name


def _section_class(f: dataclasses.Field[Any]) -> type | None:
    """The dataclass a section field holds (read from its factory: nothing is instantiated)."""
    factory = f.default_factory
    if factory is not dataclasses.MISSING and isinstance(factory, type) and dataclasses.is_dataclass(factory):
        return factory
    return None


def sections(cls: type[Settings] = Settings) -> dict[str, str]:
    """Section name → its one-line description, in declaration order."""
    out = {}
    for f in dataclasses.fields(cls):
        section = _section_class(f)
        if section is not None:
            out[f.name] = (section.__doc__ or "").strip()
    return out


def fields(cls: type[Settings] = Settings) -> Iterator[FieldInfo]:
    """Every settings field in declaration order: top-level fields first, then each section's."""
    for f in dataclasses.fields(cls):
        if _section_class(f) is None:
            yield _info("", f)
    for f in dataclasses.fields(cls):
        section = _section_class(f)
        if section is not None:
            for sf in dataclasses.fields(section):
                yield _info(f.name, sf)


def _default_of(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    raise ConfigError(f"settings field {f.name} has no default")


def _info(section: str, f: dataclasses.Field[Any]) -> FieldInfo:
    where = f"{section}.{f.name}" if section else f.name
    if "env" not in f.metadata or not f.metadata.get("doc"):
        raise ConfigError(f"settings field {where} is not declared with setting(env=..., doc=...)")
    return FieldInfo(
        section=section,
        name=f.name,
        env=f.metadata["env"],
        doc=f.metadata["doc"],
        default=_default_of(f),
        machine_default=bool(f.metadata.get("machine_default")),
    )


def _env_by_field() -> dict[tuple[str, str], str]:
    return {(info.section, info.name): info.env for info in fields()}


def env_names(cls: type[Settings] = Settings) -> set[str]:
    """Every environment variable the engine reads (settings fields and :data:`OTHER_ENV`)."""
    return {info.env for info in fields(cls)} | set(OTHER_ENV)


def _nearest(word: str, candidates: list[str]) -> str:
    match = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f"; did you mean {match[0]}?" if match else ""


def check_file(values: Mapping[str, Any], source: str, cls: type[Settings] = Settings) -> None:
    """Refuse unknown sections and keys, naming the nearest valid one."""
    known_sections = sections(cls)
    infos = list(fields(cls))
    top_keys = [i.name for i in infos if not i.section]
    where = f"{CONFIG_ENV}={source}" if source else "config file"
    for key, value in values.items():
        if key in known_sections:
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: [{key}] must be a table")
            section_keys = [i.name for i in infos if i.section == key]
            for sub in value:
                if sub not in section_keys:
                    elsewhere = " or ".join(f"[{i.section}]" for i in infos if i.name == sub and i.section)
                    hint = f"; {sub} belongs in {elsewhere}" if elsewhere else _nearest(sub, section_keys)
                    raise ConfigError(f"{where}: unknown key {sub!r} in [{key}]{hint}")
        elif key not in top_keys:
            kind = "section" if isinstance(value, dict) else "key"
            shown = f"[{key}]" if kind == "section" else repr(key)
            candidates = [f"[{s}]" for s in known_sections] if kind == "section" else top_keys
            hint = _nearest(shown, candidates) or _nearest(key, list(known_sections) + top_keys)
            raise ConfigError(f"{where}: unknown {kind} {shown}{hint}")


def check_env(env: Mapping[str, str], cls: type[Settings] = Settings) -> None:
    """Refuse unknown ``CALLENGINE_*`` variables, naming the nearest known one."""
    known = env_names(cls)
    unknown = sorted(k for k in env if k.startswith(STRICT_PREFIX) and k not in known)
    if unknown:
        name = unknown[0]
        hint = _nearest(name, sorted(known))
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        raise ConfigError(f"unknown environment variable {name}{more}{hint}")


def _convert(name: str, raw: Any, default: Any) -> Any:
    """Convert a raw env/TOML value to the type of the field's default."""
    try:
        if isinstance(default, Secret):
            return Secret(str(raw))
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
    check_env(env, cls)
    check_file(file_values, source, cls)
    by_section: dict[str, dict[str, Any]] = {}
    top: dict[str, Any] = {}
    for info in fields(cls):
        from_file = (file_values.get(info.section) or {}) if info.section else file_values
        raw = env.get(info.env)
        name = info.env
        if raw is None:
            raw = from_file.get(info.name)
            name = f"{info.key} ({info.env})"
        if raw is None:
            continue
        value = _convert(name, raw, info.default if info.default is not None else "")
        if info.section:
            by_section.setdefault(info.section, {})[info.name] = value
        else:
            top[info.name] = value
    defaults = cls()
    built = {name: dataclasses.replace(getattr(defaults, name), **vals) for name, vals in by_section.items()}
    settings = dataclasses.replace(defaults, **built, **top)
    _validate(settings)
    return settings


def _validate(s: Settings) -> None:
    if s.database.url and not s.database.url.startswith(("postgresql://", "postgres://", "postgresql+")):
        raise ConfigError("DATABASE_URL: must be a postgresql:// URL")
    if s.host.sessions_per_host < 1:
        raise ConfigError("CALLENGINE_SESSIONS_PER_HOST: must be >= 1")
    if s.twilio.calls_per_second <= 0:
        raise ConfigError("TWILIO_CALLS_PER_SECOND: must be > 0")
    _validate_twilio_location(s.twilio)
    if s.session.max_call_seconds <= 0:
        raise ConfigError("CALLENGINE_MAX_CALL_SECONDS: must be > 0")
    if not 0 <= s.api.port < 65536 or not 0 <= s.host.port < 65536:
        raise ConfigError("port: must be within 0..65535")
    if len(s.dispatch.retry_backoff_seconds) < 1 or any(d < 0 for d in s.dispatch.retry_backoff_seconds):
        raise ConfigError("CALLENGINE_RETRY_BACKOFF: needs at least one non-negative delay")


# Twilio's edge location of each processing region (its REST host is api.{edge}.{region}.twilio.com;
# the region-only api.{region}.twilio.com hosts were retired).
TWILIO_REGION_EDGES = {
    "us1": "ashburn",
    "us2": "umatilla",
    "ie1": "dublin",
    "de1": "frankfurt",
    "au1": "sydney",
    "jp1": "tokyo",
    "jp2": "osaka",
    "sg1": "singapore",
    "br1": "sao-paulo",
}


def twilio_location(t: TwilioSettings) -> tuple[str | None, str | None]:
    """(edge, region) to give the SDK: none against an emulator, else the region and its edge."""
    if t.api_base_url or not t.region:
        return None, None
    return (t.edge or TWILIO_REGION_EDGES[t.region]), t.region


def _validate_twilio_location(t: TwilioSettings) -> None:
    if not (t.region or t.edge):
        return
    if t.api_base_url:
        # The SDK rewrites the host by splitting it on dots: an emulator at 127.0.0.1 would break.
        raise ConfigError("TWILIO_REGION/TWILIO_EDGE: apply to real Twilio only; unset TWILIO_API_BASE_URL")
    if not t.region:
        raise ConfigError(
            f"TWILIO_EDGE={t.edge}: set TWILIO_REGION too (ie1 to process in Ireland); an edge alone "
            "still processes in us1"
        )
    if t.region not in TWILIO_REGION_EDGES:
        raise ConfigError(
            f"TWILIO_REGION={t.region}: unknown region{_nearest(t.region, list(TWILIO_REGION_EDGES))}"
        )
    known_edges = sorted(set(TWILIO_REGION_EDGES.values()) | {"roaming"})
    if t.edge and t.edge not in known_edges:
        raise ConfigError(f"TWILIO_EDGE={t.edge}: unknown edge{_nearest(t.edge, known_edges)}")
    if t.region != "us1" and not t.api_key_sid:
        raise ConfigError(
            f"TWILIO_REGION={t.region}: set TWILIO_API_KEY_SID and TWILIO_API_KEY_SECRET to an API key "
            "created in that region (account credentials only work in us1)"
        )


# (section, field) → environment variable ("" for a top-level field), derived from the
# declarations above for code that looks a variable up by field. Never edit it: declare the
# field with setting(env=...) instead.
_ENV_NAMES: dict[tuple[str, str], str] = _env_by_field()
