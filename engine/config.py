"""Settings: one typed object, read from the environment (and an optional TOML file) in one place.

Precedence: environment variable > TOML file (``CALLENGINE_CONFIG``) > default.
Each section is a frozen dataclass; every field is documented. Secrets are
wrapped in :class:`Secret` so they never show up in ``repr`` or logs.

Components receive the section they need (``settings.twilio``, ...) and never
read ``os.environ`` themselves.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
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


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("callengine", appauthor=False))


@dataclasses.dataclass(frozen=True)
class DatabaseSettings:
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


@dataclasses.dataclass(frozen=True)
class TwilioSettings:
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
class OpenAISettings:
    api_key: Secret = Secret("")
    """``OPENAI_API_KEY``."""
    base_url: str | None = None
    """``OPENAI_BASE_URL``: ends in ``/v1``; e.g. the emulator. Unset → real OpenAI."""
    realtime_model: str = "gpt-realtime-2.1-mini"
    """``OPENAI_REALTIME_MODEL``: a current Realtime model with tool use (a host warns at start when the
    installed openai SDK lists the configured one as deprecated)."""
    transcription_model: str = "gpt-transcribe"
    """``OPENAI_TRANSCRIPTION_MODEL``: transcribes the customer's turns (``languages``/``keywords`` hints
    and detected languages need ``gpt-transcribe``)."""
    chat_model: str = "gpt-4o-mini"
    """``OPENAI_CHAT_MODEL``: used by the post-call analysis."""
    voice: str = "alloy"
    """``OPENAI_VOICE``."""


@dataclasses.dataclass(frozen=True)
class SessionSettings:
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
    closing_silence_seconds: float = 4.0
    """``CALLENGINE_CLOSING_SILENCE_SECONDS``: when every question is answered and the AI's last turn has
    been heard, this much silence ends the call ``completed`` (for a model that never calls end_call)."""


@dataclasses.dataclass(frozen=True)
class HostSettings:
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


@dataclasses.dataclass(frozen=True)
class DispatchSettings:
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


@dataclasses.dataclass(frozen=True)
class ApiSettings:
    port: int = 50051
    """``CALLENGINE_GRPC_PORT``."""
    jwt_secret: Secret = Secret("")
    """``CALLENGINE_JWT_SECRET``: HS256 key for bearer tokens (dev default generated in the data dir)."""
    jwt_issuer: str = "callengine"
    """``CALLENGINE_JWT_ISSUER``."""
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
    ("twilio", "account_sid"): "TWILIO_ACCOUNT_SID",
    ("twilio", "auth_token"): "TWILIO_AUTH_TOKEN",
    ("twilio", "api_base_url"): "TWILIO_API_BASE_URL",
    ("twilio", "from_number"): "TWILIO_FROM_NUMBER",
    ("twilio", "calls_per_second"): "TWILIO_CALLS_PER_SECOND",
    ("openai", "api_key"): "OPENAI_API_KEY",
    ("openai", "base_url"): "OPENAI_BASE_URL",
    ("openai", "realtime_model"): "OPENAI_REALTIME_MODEL",
    ("openai", "transcription_model"): "OPENAI_TRANSCRIPTION_MODEL",
    ("openai", "chat_model"): "OPENAI_CHAT_MODEL",
    ("openai", "voice"): "OPENAI_VOICE",
    ("session", "max_call_seconds"): "CALLENGINE_MAX_CALL_SECONDS",
    ("session", "silence_nudge_seconds"): "CALLENGINE_SILENCE_NUDGE_SECONDS",
    ("session", "silence_hangup_seconds"): "CALLENGINE_SILENCE_HANGUP_SECONDS",
    ("session", "transcript_flush_seconds"): "CALLENGINE_TRANSCRIPT_FLUSH_SECONDS",
    ("session", "opt_out_dtmf"): "CALLENGINE_OPT_OUT_DTMF",
    ("session", "closing_silence_seconds"): "CALLENGINE_CLOSING_SILENCE_SECONDS",
    ("host", "sessions_per_host"): "CALLENGINE_SESSIONS_PER_HOST",
    ("host", "bind_host"): "CALLENGINE_BIND_HOST",
    ("host", "port"): "CALLENGINE_HOST_PORT",
    ("host", "public_url_template"): "CALLENGINE_PUBLIC_URL_TEMPLATE",
    ("host", "drain_seconds"): "CALLENGINE_DRAIN_SECONDS",
    ("dispatch", "retry_backoff_seconds"): "CALLENGINE_RETRY_BACKOFF",
    ("dispatch", "poll_seconds"): "CALLENGINE_DISPATCH_POLL_SECONDS",
    ("dispatch", "respect_call_windows"): "CALLENGINE_RESPECT_CALL_WINDOWS",
    ("dispatch", "assessor_actors"): "CALLENGINE_ASSESSOR_ACTORS",
    ("dispatch", "fraud_actors"): "CALLENGINE_FRAUD_ACTORS",
    ("dispatch", "max_hosts"): "CALLENGINE_MAX_HOSTS",
    ("dispatch", "min_hosts"): "CALLENGINE_MIN_HOSTS",
    ("dispatch", "host_idle_seconds"): "CALLENGINE_HOST_IDLE_SECONDS",
    ("api", "port"): "CALLENGINE_GRPC_PORT",
    ("api", "jwt_secret"): "CALLENGINE_JWT_SECRET",
    ("api", "jwt_issuer"): "CALLENGINE_JWT_ISSUER",
    ("api", "bind_host"): "CALLENGINE_GRPC_BIND_HOST",
    ("api", "max_in_flight"): "CALLENGINE_GRPC_MAX_IN_FLIGHT",
    ("api", "max_watch_streams"): "CALLENGINE_GRPC_MAX_WATCH_STREAMS",
    ("api", "max_message_bytes"): "CALLENGINE_GRPC_MAX_MESSAGE_BYTES",
    ("api", "shutdown_grace_seconds"): "CALLENGINE_GRPC_SHUTDOWN_GRACE",
    ("", "ray_address"): "RAY_ADDRESS",
    ("", "analysis_config"): "CALLENGINE_ANALYSIS_CONFIG",
}


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
            return int(raw)
        if isinstance(default, float):
            value_f = float(raw)
            if value_f != value_f or value_f in (float("inf"), float("-inf")):
                raise ValueError("must be finite")
            return value_f
        if isinstance(default, tuple):
            items = raw if isinstance(raw, list) else [p for p in str(raw).split(",") if p.strip()]
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
        raw = env.get(env_name)
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
    if s.session.closing_silence_seconds <= 0:
        raise ConfigError("CALLENGINE_CLOSING_SILENCE_SECONDS: must be > 0")
    if len(s.session.opt_out_dtmf) != 1 or s.session.opt_out_dtmf not in "0123456789*#":
        raise ConfigError("CALLENGINE_OPT_OUT_DTMF: must be one keypad key (0-9, * or #)")
    if not 0 <= s.api.port < 65536 or not 0 <= s.host.port < 65536:
        raise ConfigError("port: must be within 0..65535")
    if len(s.dispatch.retry_backoff_seconds) < 1 or any(d < 0 for d in s.dispatch.retry_backoff_seconds):
        raise ConfigError("CALLENGINE_RETRY_BACKOFF: needs at least one non-negative delay")
