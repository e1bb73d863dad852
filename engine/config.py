"""Settings: one typed object, read from the environment (and an optional TOML file) in one place.

Precedence: environment variable > TOML file (``CALLENGINE_CONFIG``) > default.
Each section is a frozen dataclass; every field is documented. Secrets are
wrapped in :class:`Secret` so they never show up in ``repr`` or logs.

Components receive the section they need (``settings.twilio``, ...) and never
read ``os.environ`` themselves.

How a process gets its secrets (every :class:`Secret` field): from its own
node, never from another process. A secret is looked up, in order, in a file
named by ``<NAME>_FILE`` (``TWILIO_AUTH_TOKEN_FILE=/run/secrets/twilio``), a
file ``<NAME>`` in the directory ``CALLENGINE_SECRETS_DIR`` (a mounted
Kubernetes secret), the environment variable ``<NAME>``, then the TOML file. When Ray pickles settings to start an actor, each secret travels as
its *name* only (:meth:`Secret.__reduce__`) and is looked up again, the same
way, on the node where the actor is unpickled; a worker node's own
environment or mounted secret therefore decides, and no secret value ever sits
in Ray's object store, GCS or ``runtime_env``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.errors import ConfigError

_COUNTRY_CODE_RE = re.compile(r"^\+[1-9][0-9]{0,3}$")


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


SECRETS_DIR_ENV = "CALLENGINE_SECRETS_DIR"
"""Directory of secret files named like the variables (a mounted Kubernetes secret)."""


def node_secret(name: str, env: Mapping[str, str] | None = None) -> Secret:
    """The secret ``name`` as this node holds it (see the module docstring); empty when it has none."""
    env = os.environ if env is None else env
    raw = _secret_from_env(name, env)
    if raw is None:
        path = env.get("CALLENGINE_CONFIG")
        if path:
            section, field = _FIELD_OF[name]
            try:
                values = tomllib.loads(Path(path).read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"CALLENGINE_CONFIG={path}: cannot read TOML: {exc}") from exc
            table = values.get(section, {}) if section else values
            found = table.get(field) if isinstance(table, dict) else None
            raw = None if found is None else str(found)
    return Secret(raw or "", name)


def _secret_from_env(name: str, env: Mapping[str, str]) -> str | None:
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


class _NamesSecrets:
    """Mixin for sections: every Secret field carries its variable name (so it pickles as a name)."""

    _section: str = ""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, Secret):
                name = _ENV_NAMES.get((self._section, f.name))
                if name:
                    object.__setattr__(self, f.name, value.named(name))


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("callengine", appauthor=False))


@dataclasses.dataclass(frozen=True)
class DatabaseSettings(_NamesSecrets):
    _section = "database"

    url: str | None = None
    """``DATABASE_URL``: ``postgresql://user:pw@host:port/db``. Unset → embedded PostgreSQL."""
    data_dir: Path = dataclasses.field(default_factory=default_data_dir)
    """``CALLENGINE_DATA_DIR``: where the embedded database and dev keys live."""
    pool_size: int = 10
    """``CALLENGINE_DB_POOL_SIZE``: connections per process."""
    encryption_keys: Secret = Secret("")
    """``CALLENGINE_ENCRYPTION_KEYS``: ``kid1:base64key,kid2:base64key`` (32-byte keys)."""
    active_key_id: str = ""
    """``CALLENGINE_ACTIVE_KEY_ID``: key id used for new ciphertexts (default: the last listed)."""
    blind_index_key: Secret = Secret("")
    """``CALLENGINE_BLIND_INDEX_KEY``: base64 key for the phone-number HMAC blind index."""
    app_url: str | None = None
    """``DATABASE_APP_URL``: the runtime's own login (the ``callengine_login`` role, which owns
    nothing). Unset → ``DATABASE_URL`` with that user and ``CALLENGINE_DB_APP_PASSWORD``.
    ``DATABASE_URL`` (the owner) is then used only by ``callengine db …`` and migrations."""
    app_password: Secret = Secret("")
    """``CALLENGINE_DB_APP_PASSWORD``: password the migrations give ``callengine_login`` and the
    runtime logs in with (embedded mode: generated into the data dir when unset)."""


@dataclasses.dataclass(frozen=True)
class TwilioSettings(_NamesSecrets):
    _section = "twilio"

    account_sid: str = ""
    """``TWILIO_ACCOUNT_SID``."""
    auth_token: Secret = Secret("")
    """``TWILIO_AUTH_TOKEN``: also the key of ``X-Twilio-Signature``."""
    api_base_url: str | None = None
    """``TWILIO_API_BASE_URL``: e.g. the emulator's ``http://127.0.0.1:PORT``. Unset → real Twilio."""
    from_number: str = "+46850000000"
    """``TWILIO_FROM_NUMBER``: caller id, E.164."""
    calls_per_second: float = 1.0
    """``TWILIO_CALLS_PER_SECOND``: account CPS limit the dispatcher's token bucket enforces."""


@dataclasses.dataclass(frozen=True)
class OpenAISettings(_NamesSecrets):
    _section = "openai"

    api_key: Secret = Secret("")
    """``OPENAI_API_KEY``."""
    base_url: str | None = None
    """``OPENAI_BASE_URL``: ends in ``/v1``; e.g. the emulator. Unset → real OpenAI."""
    realtime_model: str = "gpt-4o-mini-realtime-preview"
    """``OPENAI_REALTIME_MODEL``."""
    chat_model: str = "gpt-4o-mini"
    """``OPENAI_CHAT_MODEL``: used by the post-call analysis."""
    voice: str = "alloy"
    """``OPENAI_VOICE``."""


@dataclasses.dataclass(frozen=True)
class SessionSettings(_NamesSecrets):
    _section = "session"

    max_call_seconds: float = 180.0
    """``CALLENGINE_MAX_CALL_SECONDS``: hard cap on one conversation."""
    silence_nudge_seconds: float = 8.0
    """``CALLENGINE_SILENCE_NUDGE_SECONDS``: customer silence before the AI nudges."""
    silence_hangup_seconds: float = 20.0
    """``CALLENGINE_SILENCE_HANGUP_SECONDS``: customer silence before hanging up."""
    transcript_flush_seconds: float = 1.0
    """``CALLENGINE_TRANSCRIPT_FLUSH_SECONDS``: transcript lines are flushed at least this often."""
    opt_out_dtmf: str = "9"
    """``CALLENGINE_OPT_OUT_DTMF``: keypad digit that opts the customer out."""


@dataclasses.dataclass(frozen=True)
class HostSettings(_NamesSecrets):
    _section = "host"

    sessions_per_host: int = 200
    """``CALLENGINE_SESSIONS_PER_HOST``: call slots per SessionHost; 1 = a dedicated actor per call."""
    bind_host: str = "127.0.0.1"
    """``CALLENGINE_BIND_HOST``: address the media/status server listens on."""
    port: int = 0
    """``CALLENGINE_HOST_PORT``: 0 picks a free port per host."""
    public_url_template: str = "ws://{host}:{port}"
    """``CALLENGINE_PUBLIC_URL_TEMPLATE``: how Twilio reaches a host; ``{host}``/``{port}`` filled in.
    Use ``wss://calls.example.com/{node_id}`` behind a TLS proxy."""
    drain_seconds: float = 60.0
    """``CALLENGINE_DRAIN_SECONDS``: how long a draining host lets calls finish."""
    max_connections: int = 1000
    """``CALLENGINE_HOST_MAX_CONNECTIONS``: open connections a host's listener accepts at once;
    more are closed at once (media streams, callbacks and probes all count)."""
    handshake_timeout_seconds: float = 5.0
    """``CALLENGINE_HOST_HANDSHAKE_TIMEOUT``: time a connection gets to send its request (and a
    media stream its ``start`` frame) before it is closed."""


@dataclasses.dataclass(frozen=True)
class DispatchSettings(_NamesSecrets):
    _section = "dispatch"

    retry_backoff_seconds: tuple[float, ...] = (600.0, 3600.0, 14400.0)
    """``CALLENGINE_RETRY_BACKOFF``: comma list; delay before retry 1, 2, 3."""
    poll_seconds: float = 0.5
    """``CALLENGINE_DISPATCH_POLL_SECONDS``: how often the queue is polled when idle."""
    respect_call_windows: bool = True
    """``CALLENGINE_RESPECT_CALL_WINDOWS``: false only for demos/tests that run at night."""
    assessor_actors: int = 2
    """``CALLENGINE_ASSESSOR_ACTORS``."""
    fraud_actors: int = 2
    """``CALLENGINE_FRAUD_ACTORS``."""
    max_hosts: int = 64
    """``CALLENGINE_MAX_HOSTS``: upper bound on SessionHost actors the dispatcher starts."""
    min_hosts: int = 1
    """``CALLENGINE_MIN_HOSTS``: hosts kept running even when idle."""
    host_idle_seconds: float = 300.0
    """``CALLENGINE_HOST_IDLE_SECONDS``: an empty host beyond ``min_hosts`` drains and exits after this."""
    allowed_country_codes: tuple[str, ...] = ("+46",)
    """``CALLENGINE_ALLOWED_COUNTRY_CODES``: comma list of ``+<code>`` prefixes the engine may dial;
    checked at DispatchCall/PutVerification and again by the host just before dialling."""
    number_cooldown_seconds: float = 86400.0
    """``CALLENGINE_NUMBER_COOLDOWN_SECONDS``: a number gets at most one new call session per this
    period, across all stores (retries of a session are exempt); 0 turns it off."""
    store_daily_quota: int = 1000
    """``CALLENGINE_STORE_DAILY_QUOTA``: new call sessions per store in any 24 hours; 0 turns it off."""


@dataclasses.dataclass(frozen=True)
class ApiSettings(_NamesSecrets):
    _section = "api"

    port: int = 50051
    """``CALLENGINE_GRPC_PORT``."""
    jwt_secret: Secret = Secret("")
    """``CALLENGINE_JWT_SECRET``: HS256 key for bearer tokens (dev default generated in the data dir)."""
    jwt_issuer: str = "callengine"
    """``CALLENGINE_JWT_ISSUER``."""
    jwt_audience: str = "callengine"
    """``CALLENGINE_JWT_AUDIENCE``: the ``aud`` every token must carry."""
    jwt_max_ttl_seconds: float = 86400.0
    """``CALLENGINE_JWT_MAX_TTL_SECONDS``: longest token lifetime minted or accepted (``exp - iat``)."""
    tls_cert_file: str | None = None
    """``CALLENGINE_GRPC_TLS_CERT``: PEM server certificate (chain); with the key, the front door
    speaks TLS only."""
    tls_key_file: str | None = None
    """``CALLENGINE_GRPC_TLS_KEY``: PEM private key of that certificate."""
    tls_client_ca_file: str | None = None
    """``CALLENGINE_GRPC_TLS_CLIENT_CA``: PEM CA bundle; set → clients must present a certificate it
    signed (mutual TLS)."""
    tls_ca_file: str | None = None
    """``CALLENGINE_GRPC_TLS_CA``: PEM CA bundle our own clients (demo, bench) trust for the front
    door; set → they connect with TLS."""
    tls_client_cert_file: str | None = None
    """``CALLENGINE_GRPC_TLS_CLIENT_CERT``: PEM certificate our own clients present (mutual TLS)."""
    tls_client_key_file: str | None = None
    """``CALLENGINE_GRPC_TLS_CLIENT_KEY``: PEM key of that client certificate."""
    bind_host: str = "0.0.0.0"
    """``CALLENGINE_GRPC_BIND_HOST``: address the gRPC server listens on."""
    max_in_flight: int = 256
    """``CALLENGINE_GRPC_MAX_IN_FLIGHT``: unary requests handled at once; more → RESOURCE_EXHAUSTED."""
    max_watch_streams: int = 1000
    """``CALLENGINE_GRPC_MAX_WATCH_STREAMS``: open WatchCall streams at once; more → RESOURCE_EXHAUSTED."""
    max_message_bytes: int = 4 * 1024 * 1024
    """``CALLENGINE_GRPC_MAX_MESSAGE_BYTES``: largest request/response message accepted."""
    shutdown_grace_seconds: float = 10.0
    """``CALLENGINE_GRPC_SHUTDOWN_GRACE``: how long in-flight requests may finish on shutdown."""
    max_watch_streams_per_caller: int = 16
    """``CALLENGINE_GRPC_MAX_WATCH_STREAMS_PER_CALLER``: open WatchCall streams per token subject."""
    watch_max_seconds: float = 3600.0
    """``CALLENGINE_GRPC_WATCH_MAX_SECONDS``: a WatchCall stream ends (DEADLINE_EXCEEDED) after this."""


@dataclasses.dataclass(frozen=True)
class Settings:
    database: DatabaseSettings = dataclasses.field(default_factory=DatabaseSettings)
    twilio: TwilioSettings = dataclasses.field(default_factory=TwilioSettings)
    openai: OpenAISettings = dataclasses.field(default_factory=OpenAISettings)
    session: SessionSettings = dataclasses.field(default_factory=SessionSettings)
    host: HostSettings = dataclasses.field(default_factory=HostSettings)
    dispatch: DispatchSettings = dataclasses.field(default_factory=DispatchSettings)
    api: ApiSettings = dataclasses.field(default_factory=ApiSettings)
    ray_address: str | None = None
    """``RAY_ADDRESS``: join this cluster; unset → a local Ray."""
    analysis_config: str | None = None
    """``CALLENGINE_ANALYSIS_CONFIG``: TOML file overriding the analysis thresholds and weights
    (``engine/analysis/config.py``); unset → the documented defaults."""
    secrets_dir: str | None = None
    """``CALLENGINE_SECRETS_DIR``: directory of secret files named like their variables
    (``TWILIO_AUTH_TOKEN``, …), e.g. a mounted Kubernetes secret; read on each node."""

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
        return dataclasses.replace(self, host=dataclasses.replace(self.host, **changed)) if changed else self

    @property
    def purely_local(self) -> bool:
        """One machine, nothing shared: no Ray cluster to join and the embedded database."""
        return not self.ray_address and not self.database.url and not self.database.app_url

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default ``os.environ``) and the optional TOML file."""
        env = os.environ if env is None else env
        file_values: dict[str, Any] = {}
        path = env.get("CALLENGINE_CONFIG")
        if path:
            try:
                file_values = tomllib.loads(Path(path).read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"CALLENGINE_CONFIG={path}: cannot read TOML: {exc}") from exc
        return _load(cls, env, file_values)


# env var name per (section, field); TOML uses [section] field = value.
_ENV_NAMES: dict[tuple[str, str], str] = {
    ("database", "url"): "DATABASE_URL",
    ("database", "data_dir"): "CALLENGINE_DATA_DIR",
    ("database", "pool_size"): "CALLENGINE_DB_POOL_SIZE",
    ("database", "encryption_keys"): "CALLENGINE_ENCRYPTION_KEYS",
    ("database", "active_key_id"): "CALLENGINE_ACTIVE_KEY_ID",
    ("database", "blind_index_key"): "CALLENGINE_BLIND_INDEX_KEY",
    ("database", "app_url"): "DATABASE_APP_URL",
    ("database", "app_password"): "CALLENGINE_DB_APP_PASSWORD",
    ("twilio", "account_sid"): "TWILIO_ACCOUNT_SID",
    ("twilio", "auth_token"): "TWILIO_AUTH_TOKEN",
    ("twilio", "api_base_url"): "TWILIO_API_BASE_URL",
    ("twilio", "from_number"): "TWILIO_FROM_NUMBER",
    ("twilio", "calls_per_second"): "TWILIO_CALLS_PER_SECOND",
    ("openai", "api_key"): "OPENAI_API_KEY",
    ("openai", "base_url"): "OPENAI_BASE_URL",
    ("openai", "realtime_model"): "OPENAI_REALTIME_MODEL",
    ("openai", "chat_model"): "OPENAI_CHAT_MODEL",
    ("openai", "voice"): "OPENAI_VOICE",
    ("session", "max_call_seconds"): "CALLENGINE_MAX_CALL_SECONDS",
    ("session", "silence_nudge_seconds"): "CALLENGINE_SILENCE_NUDGE_SECONDS",
    ("session", "silence_hangup_seconds"): "CALLENGINE_SILENCE_HANGUP_SECONDS",
    ("session", "transcript_flush_seconds"): "CALLENGINE_TRANSCRIPT_FLUSH_SECONDS",
    ("session", "opt_out_dtmf"): "CALLENGINE_OPT_OUT_DTMF",
    ("host", "sessions_per_host"): "CALLENGINE_SESSIONS_PER_HOST",
    ("host", "bind_host"): "CALLENGINE_BIND_HOST",
    ("host", "port"): "CALLENGINE_HOST_PORT",
    ("host", "public_url_template"): "CALLENGINE_PUBLIC_URL_TEMPLATE",
    ("host", "drain_seconds"): "CALLENGINE_DRAIN_SECONDS",
    ("host", "max_connections"): "CALLENGINE_HOST_MAX_CONNECTIONS",
    ("host", "handshake_timeout_seconds"): "CALLENGINE_HOST_HANDSHAKE_TIMEOUT",
    ("dispatch", "retry_backoff_seconds"): "CALLENGINE_RETRY_BACKOFF",
    ("dispatch", "poll_seconds"): "CALLENGINE_DISPATCH_POLL_SECONDS",
    ("dispatch", "respect_call_windows"): "CALLENGINE_RESPECT_CALL_WINDOWS",
    ("dispatch", "assessor_actors"): "CALLENGINE_ASSESSOR_ACTORS",
    ("dispatch", "fraud_actors"): "CALLENGINE_FRAUD_ACTORS",
    ("dispatch", "max_hosts"): "CALLENGINE_MAX_HOSTS",
    ("dispatch", "min_hosts"): "CALLENGINE_MIN_HOSTS",
    ("dispatch", "host_idle_seconds"): "CALLENGINE_HOST_IDLE_SECONDS",
    ("dispatch", "allowed_country_codes"): "CALLENGINE_ALLOWED_COUNTRY_CODES",
    ("dispatch", "number_cooldown_seconds"): "CALLENGINE_NUMBER_COOLDOWN_SECONDS",
    ("dispatch", "store_daily_quota"): "CALLENGINE_STORE_DAILY_QUOTA",
    ("api", "port"): "CALLENGINE_GRPC_PORT",
    ("api", "jwt_secret"): "CALLENGINE_JWT_SECRET",
    ("api", "jwt_issuer"): "CALLENGINE_JWT_ISSUER",
    ("api", "jwt_audience"): "CALLENGINE_JWT_AUDIENCE",
    ("api", "jwt_max_ttl_seconds"): "CALLENGINE_JWT_MAX_TTL_SECONDS",
    ("api", "tls_cert_file"): "CALLENGINE_GRPC_TLS_CERT",
    ("api", "tls_key_file"): "CALLENGINE_GRPC_TLS_KEY",
    ("api", "tls_client_ca_file"): "CALLENGINE_GRPC_TLS_CLIENT_CA",
    ("api", "tls_ca_file"): "CALLENGINE_GRPC_TLS_CA",
    ("api", "tls_client_cert_file"): "CALLENGINE_GRPC_TLS_CLIENT_CERT",
    ("api", "tls_client_key_file"): "CALLENGINE_GRPC_TLS_CLIENT_KEY",
    ("api", "bind_host"): "CALLENGINE_GRPC_BIND_HOST",
    ("api", "max_in_flight"): "CALLENGINE_GRPC_MAX_IN_FLIGHT",
    ("api", "max_watch_streams"): "CALLENGINE_GRPC_MAX_WATCH_STREAMS",
    ("api", "max_message_bytes"): "CALLENGINE_GRPC_MAX_MESSAGE_BYTES",
    ("api", "shutdown_grace_seconds"): "CALLENGINE_GRPC_SHUTDOWN_GRACE",
    ("api", "max_watch_streams_per_caller"): "CALLENGINE_GRPC_MAX_WATCH_STREAMS_PER_CALLER",
    ("api", "watch_max_seconds"): "CALLENGINE_GRPC_WATCH_MAX_SECONDS",
    ("", "ray_address"): "RAY_ADDRESS",
    ("", "analysis_config"): "CALLENGINE_ANALYSIS_CONFIG",
    ("", "secrets_dir"): "CALLENGINE_SECRETS_DIR",
}
_FIELD_OF: dict[str, tuple[str, str]] = {name: key for key, name in _ENV_NAMES.items()}


def _convert(name: str, raw: Any, default: Any) -> Any:
    """Convert a raw env/TOML value to the type of the field's default."""
    try:
        if isinstance(default, Secret):
            return Secret(str(raw), name)
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
            return int(raw)
        if isinstance(default, float):
            value_f = float(raw)
            if value_f != value_f or value_f in (float("inf"), float("-inf")):
                raise ValueError("must be finite")
            return value_f
        if isinstance(default, tuple):
            items = raw if isinstance(raw, list) else [p for p in str(raw).split(",") if p.strip()]
            if default and isinstance(default[0], str):
                return tuple(str(p).strip() for p in items)
            return tuple(float(p) for p in items)
        if isinstance(default, Path):
            return Path(str(raw)).expanduser()
        if raw == "":
            return None
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}: invalid value: {exc}") from exc


def _load(cls: type[Settings], env: Mapping[str, str], file_values: dict[str, Any]) -> Settings:
    sections: dict[str, Any] = {}
    top: dict[str, Any] = {}
    defaults = cls()
    for (section, field), env_name in _ENV_NAMES.items():
        if section:
            default = getattr(getattr(defaults, section), field)
            from_file = (
                file_values.get(section, {}).get(field)
                if isinstance(file_values.get(section), dict)
                else None
            )
        else:
            default = getattr(defaults, field)
            from_file = file_values.get(field)
        raw = _secret_from_env(env_name, env) if isinstance(default, Secret) else env.get(env_name)
        if raw is None:
            raw = from_file
        if raw is None:
            continue
        value = _convert(env_name, raw, default if default is not None else "")
        if section:
            sections.setdefault(section, {})[field] = value
        else:
            top[field] = value
    built = {name: dataclasses.replace(getattr(defaults, name), **vals) for name, vals in sections.items()}
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
    if s.session.max_call_seconds <= 0:
        raise ConfigError("CALLENGINE_MAX_CALL_SECONDS: must be > 0")
    if not 0 <= s.api.port < 65536 or not 0 <= s.host.port < 65536:
        raise ConfigError("port: must be within 0..65535")
    for code in s.dispatch.allowed_country_codes:
        if not _COUNTRY_CODE_RE.fullmatch(code):
            raise ConfigError(f"CALLENGINE_ALLOWED_COUNTRY_CODES: {code!r} is not like +46")
    if s.dispatch.number_cooldown_seconds < 0 or s.dispatch.store_daily_quota < 0:
        raise ConfigError("CALLENGINE_NUMBER_COOLDOWN_SECONDS / CALLENGINE_STORE_DAILY_QUOTA: must be >= 0")
    if s.api.jwt_max_ttl_seconds <= 0 or not s.api.jwt_audience:
        raise ConfigError("CALLENGINE_JWT_MAX_TTL_SECONDS must be > 0 and CALLENGINE_JWT_AUDIENCE set")
    if bool(s.api.tls_cert_file) != bool(s.api.tls_key_file):
        raise ConfigError("CALLENGINE_GRPC_TLS_CERT and CALLENGINE_GRPC_TLS_KEY: set both or neither")
    if s.api.tls_client_ca_file and not s.api.tls_cert_file:
        raise ConfigError("CALLENGINE_GRPC_TLS_CLIENT_CA: needs CALLENGINE_GRPC_TLS_CERT/KEY too")
    if s.api.max_watch_streams_per_caller < 1 or s.api.watch_max_seconds <= 0:
        raise ConfigError("CALLENGINE_GRPC_MAX_WATCH_STREAMS_PER_CALLER / _WATCH_MAX_SECONDS: must be > 0")
    if s.host.max_connections < 1 or s.host.handshake_timeout_seconds <= 0:
        raise ConfigError("CALLENGINE_HOST_MAX_CONNECTIONS / _HANDSHAKE_TIMEOUT: must be > 0")
    if s.database.app_url and not s.database.app_url.startswith(("postgresql://", "postgres://")):
        raise ConfigError("DATABASE_APP_URL: must be a postgresql:// URL")
    if len(s.dispatch.retry_backoff_seconds) < 1 or any(d < 0 for d in s.dispatch.retry_backoff_seconds):
        raise ConfigError("CALLENGINE_RETRY_BACKOFF: needs at least one non-negative delay")
