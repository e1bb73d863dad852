"""Settings: one typed object, read from the environment (and an optional TOML file) in one place.

Precedence: environment variable > TOML file (``CALLENGINE_CONFIG``) > default.
Each section is a frozen dataclass. Every field is declared with :func:`setting`
(:mod:`engine.config_fields`), which carries its environment variable and its
documentation: the loader, the
strictness checks, ``callengine config example`` (checked in as
``callengine.example.toml``) and ``callengine config show`` are all derived from
those declarations, so a new field needs nothing else (``tests/unit/test_config.py``
fails when a field lacks them or the example drifts). Secrets are wrapped in
:class:`Secret` so they never show up in ``repr`` or logs.

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
import re
import tomllib
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from engine.config_fields import (
    FieldInfo,
    check_env,
    check_file,
    declared_fields,
    declared_sections,
    nearest,
    setting,
)
from engine.config_secrets import SECRETS_DIR_ENV, node_secret, publish_secrets, secret_from_env
from engine.errors import ConfigError

__all__ = ["SECRETS_DIR_ENV", "Secret", "Settings", "node_secret", "publish_secrets"]


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


_COUNTRY_CODE_RE = re.compile(r"^\+[1-9][0-9]{0,3}$")


class _NamesSecrets:
    """Mixin for sections: every Secret field carries its variable name (so it pickles as a name)."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            env = f.metadata.get("env")
            if isinstance(value, Secret) and env:
                object.__setattr__(self, f.name, value.named(env))


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("callengine", appauthor=False))


@dataclasses.dataclass(frozen=True)
class DatabaseSettings(_NamesSecrets):
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
    app_url: str | None = setting(
        None,
        env="DATABASE_APP_URL",
        doc="The runtime's own login (role callengine_app, which owns nothing). Unset → DATABASE_URL "
        "with that user and CALLENGINE_DB_APP_PASSWORD. Runtime nodes need only this, not the owner.",
    )
    app_password: Secret = setting(
        Secret(""),
        env="CALLENGINE_DB_APP_PASSWORD",
        doc="Password `callengine db upgrade` gives callengine_app and the runtime logs in with "
        "(embedded mode trusts local socket logins: not needed there).",
    )


@dataclasses.dataclass(frozen=True)
class TwilioSettings(_NamesSecrets):
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
class OpenAISettings(_NamesSecrets):
    """The OpenAI project: the Realtime voice and the analysis model."""

    api_key: Secret = setting(Secret(""), env="OPENAI_API_KEY", doc="API key.")
    base_url: str | None = setting(
        None,
        env="OPENAI_BASE_URL",
        doc="API base URL ending in /v1: the emulator, or a data-residency project's regional URL. "
        "Unset → the default OpenAI endpoint.",
    )
    realtime_model: str = setting(
        "gpt-realtime-2.1-mini",
        env="OPENAI_REALTIME_MODEL",
        doc="Model of the spoken interview: a current Realtime model with tool use (a host warns at start "
        "when the installed openai SDK lists the configured one as deprecated).",
    )
    transcription_model: str = setting(
        "gpt-transcribe",
        env="OPENAI_TRANSCRIPTION_MODEL",
        doc="Transcribes the customer's turns; languages/keywords hints and detected languages need "
        "gpt-transcribe.",
    )
    chat_model: str = setting("gpt-4o-mini", env="OPENAI_CHAT_MODEL", doc="Model of the post-call analysis.")
    voice: str = setting("alloy", env="OPENAI_VOICE", doc="Realtime voice.")
    sip_project_id: str = setting(
        "",
        env="OPENAI_SIP_PROJECT_ID",
        doc="The OpenAI project (proj_…) whose SIP endpoint takes calls in SIP media mode.",
    )
    sip_uri: str = setting(
        "sip:{project}@sip.api.openai.com;transport=tls",
        env="OPENAI_SIP_URI",
        doc="SIP URI Twilio dials in SIP media mode ({project} = OPENAI_SIP_PROJECT_ID).",
    )
    webhook_secret: Secret = setting(
        Secret(""),
        env="OPENAI_WEBHOOK_SECRET",
        doc="Signing secret (whsec_…) of the project's realtime.call.incoming webhook (SIP media mode).",
    )


@dataclasses.dataclass(frozen=True)
class SessionSettings(_NamesSecrets):
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
    closing_silence_seconds: float = setting(
        4.0,
        env="CALLENGINE_CLOSING_SILENCE_SECONDS",
        doc="When every question is answered and the AI's last turn has been heard, this much silence "
        "ends the call completed (for a model that never calls end_call).",
    )
    media_mode: str = setting(
        "streams",
        env="CALLENGINE_MEDIA_MODE",
        doc="How the call's audio reaches OpenAI: 'streams' (Twilio Media Streams relayed by the host) "
        "or 'sip' (Twilio dials the OpenAI project's SIP endpoint; no audio through the engine).",
    )
    media_mode_stores: tuple[str, ...] = setting(
        (),
        env="CALLENGINE_MEDIA_MODE_STORES",
        doc="Per-store overrides of CALLENGINE_MEDIA_MODE as <store uuid>=streams|sip (in the "
        "environment: a comma list).",
    )

    def media_mode_for(self, store_id: str) -> str:
        """The media mode of one store's calls: its override, else the global mode."""
        for entry in self.media_mode_stores:
            store, _, mode = entry.partition("=")
            if store.strip().lower() == store_id.lower():
                return mode.strip()
        return self.media_mode


@dataclasses.dataclass(frozen=True)
class HostSettings(_NamesSecrets):
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
    port_range: str = setting(
        "",
        env="CALLENGINE_HOST_PORT_RANGE",
        doc="first-last (e.g. 20000-20003): each host binds the first free port in it, so a proxy "
        "can allow-list the range; replaces CALLENGINE_HOST_PORT.",
    )
    public_url_template: str = setting(
        "ws://{node_ip}:{port}",
        env="CALLENGINE_PUBLIC_URL_TEMPLATE",
        doc="How Twilio reaches a host: {node_ip} (its node's address), {port} (its port), {host_id} "
        "(its id); e.g. wss://calls.example.com/{node_ip}/{port} behind deploy/nginx.",
    )
    drain_seconds: float = setting(
        60.0, env="CALLENGINE_DRAIN_SECONDS", doc="How long a draining host lets its calls finish."
    )
    max_connections: int = setting(
        1000,
        env="CALLENGINE_HOST_MAX_CONNECTIONS",
        doc="Open connections a host's listener accepts at once; more are closed at once.",
    )
    handshake_timeout_seconds: float = setting(
        5.0,
        env="CALLENGINE_HOST_HANDSHAKE_TIMEOUT",
        doc="Time a connection gets to send its request (and a media stream its start frame).",
    )


@dataclasses.dataclass(frozen=True)
class DispatchSettings(_NamesSecrets):
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
    allowed_country_codes: tuple[str, ...] = setting(
        ("+46",),
        env="CALLENGINE_ALLOWED_COUNTRY_CODES",
        doc="+<code> prefixes the engine may dial (in the environment: a comma list); checked at "
        "DispatchCall and again by the host just before dialling.",
    )
    number_cooldown_seconds: float = setting(
        86400.0,
        env="CALLENGINE_NUMBER_COOLDOWN_SECONDS",
        doc="A number gets at most one new call session per this period, across all stores "
        "(retries of a session are exempt); 0 turns it off.",
    )
    store_daily_quota: int = setting(
        1000,
        env="CALLENGINE_STORE_DAILY_QUOTA",
        doc="New call sessions per store in any 24 hours; 0 turns it off.",
    )
    job_lease_seconds: float = setting(
        30.0,
        env="CALLENGINE_JOB_LEASE_SECONDS",
        doc="How long a claimed job is held without its worker renewing it (renewed every third of "
        "this); a job whose worker died is taken over after it.",
    )


@dataclasses.dataclass(frozen=True)
class ApiSettings(_NamesSecrets):
    """The gRPC front door."""

    port: int = setting(50051, env="CALLENGINE_GRPC_PORT", doc="gRPC port.")
    jwt_secret: Secret = setting(
        Secret(""),
        env="CALLENGINE_JWT_SECRET",
        doc="HS256 key of bearer tokens, 32+ bytes; required unless purely local (empty: a "
        "development key generated in the data dir).",
    )
    jwt_issuer: str = setting("callengine", env="CALLENGINE_JWT_ISSUER", doc="Expected token issuer.")
    jwt_audience: str = setting(
        "callengine", env="CALLENGINE_JWT_AUDIENCE", doc="The aud every token must carry."
    )
    jwt_max_ttl_seconds: float = setting(
        86400.0,
        env="CALLENGINE_JWT_MAX_TTL_SECONDS",
        doc="Longest token lifetime (exp - iat) minted or accepted.",
    )
    tls_cert_file: str | None = setting(
        None,
        env="CALLENGINE_GRPC_TLS_CERT",
        doc="PEM server certificate (chain); with the key, the front door speaks TLS only.",
    )
    tls_key_file: str | None = setting(
        None, env="CALLENGINE_GRPC_TLS_KEY", doc="PEM private key of that certificate."
    )
    tls_client_ca_file: str | None = setting(
        None,
        env="CALLENGINE_GRPC_TLS_CLIENT_CA",
        doc="PEM CA bundle; set → clients must present a certificate it signed (mutual TLS).",
    )
    tls_ca_file: str | None = setting(
        None,
        env="CALLENGINE_GRPC_TLS_CA",
        doc="PEM CA bundle our own clients (demo, token --check) trust; set → they use TLS.",
    )
    tls_client_cert_file: str | None = setting(
        None,
        env="CALLENGINE_GRPC_TLS_CLIENT_CERT",
        doc="PEM certificate our own clients present (mutual TLS).",
    )
    tls_client_key_file: str | None = setting(
        None, env="CALLENGINE_GRPC_TLS_CLIENT_KEY", doc="PEM key of that client certificate."
    )
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
    max_watch_streams_per_caller: int = setting(
        16,
        env="CALLENGINE_GRPC_MAX_WATCH_STREAMS_PER_CALLER",
        doc="Open WatchCall streams per token subject; more → RESOURCE_EXHAUSTED.",
    )
    watch_max_seconds: float = setting(
        3600.0,
        env="CALLENGINE_GRPC_WATCH_MAX_SECONDS",
        doc="A WatchCall stream ends (DEADLINE_EXCEEDED) after this.",
    )


@dataclasses.dataclass(frozen=True)
class EventSettings(_NamesSecrets):
    """Outgoing events: signed webhooks to backend services (the gRPC WatchEvents stream needs none)."""

    webhook_endpoints: tuple[str, ...] = setting(
        (),
        env="CALLENGINE_WEBHOOK_ENDPOINTS",
        doc="Where events are POSTed, as name=https://host/path (in the environment: a comma list). "
        "Each endpoint gets every event, signed under the Standard Webhooks scheme; empty: none.",
    )
    webhook_secrets: Secret = setting(
        Secret(""),
        env="CALLENGINE_WEBHOOK_SECRETS",
        doc="Signing secrets as name=whsec_<base64 of 24–64 random bytes>, comma-separated; one or "
        "more per endpoint (during a rotation each delivery carries a signature per secret).",
    )
    webhook_ca_file: str | None = setting(
        None,
        env="CALLENGINE_WEBHOOK_CA_FILE",
        doc="PEM CA bundle the endpoints' certificates are checked against (unset: the system's).",
    )
    webhook_timeout_seconds: float = setting(
        10.0, env="CALLENGINE_WEBHOOK_TIMEOUT_SECONDS", doc="One delivery attempt's time limit."
    )
    webhook_backoff_seconds: tuple[float, ...] = setting(
        (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0),
        env="CALLENGINE_WEBHOOK_BACKOFF",
        doc="Delay before retry 1, 2, … of a failed delivery (the last repeats; ±20 % jitter).",
    )
    webhook_max_attempts: int = setting(
        8,
        env="CALLENGINE_WEBHOOK_MAX_ATTEMPTS",
        doc="Attempts per event and endpoint before the delivery is dead (ListDeadDeliveries).",
    )
    delivery_actors: int = setting(
        1, env="CALLENGINE_WEBHOOK_ACTORS", doc="Delivery actors (started only when endpoints are set)."
    )
    retention_days: float = setting(
        30.0,
        env="CALLENGINE_EVENT_RETENTION_DAYS",
        doc="Events are kept (for WatchEvents replays and redeliveries) this long.",
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
    if s.session.closing_silence_seconds <= 0:
        raise ConfigError("CALLENGINE_CLOSING_SILENCE_SECONDS: must be > 0")
    if len(s.session.opt_out_dtmf) != 1 or s.session.opt_out_dtmf not in "0123456789*#":
        raise ConfigError("CALLENGINE_OPT_OUT_DTMF: must be one keypad key (0-9, * or #)")
    if s.dispatch.job_lease_seconds < 1:
        raise ConfigError("CALLENGINE_JOB_LEASE_SECONDS: must be >= 1")
    if not 0 <= s.api.port < 65536 or not 0 <= s.host.port < 65536:
        raise ConfigError("port: must be within 0..65535")
    if len(s.dispatch.retry_backoff_seconds) < 1 or any(d < 0 for d in s.dispatch.retry_backoff_seconds):
        raise ConfigError("CALLENGINE_RETRY_BACKOFF: needs at least one non-negative delay")
    _validate_security(s)
    _validate_media(s)
    validate_host(s.host)
    _validate_events(s)
    if s.clock_offset_file and not s.purely_local:
        raise ConfigError(
            "CALLENGINE_CLOCK_OFFSET_FILE: a shifted clock is for the demo and tests only; it is refused "
            "with DATABASE_URL, DATABASE_APP_URL or RAY_ADDRESS"
        )


def _validate_events(s: Settings) -> None:
    from engine.events.endpoints import parse_endpoints

    e = s.events
    parse_endpoints(e.webhook_endpoints, e.webhook_secrets)  # raises ConfigError naming the problem
    if e.webhook_timeout_seconds <= 0 or e.webhook_max_attempts < 1 or e.delivery_actors < 0:
        raise ConfigError(
            "CALLENGINE_WEBHOOK_TIMEOUT_SECONDS / _MAX_ATTEMPTS / CALLENGINE_WEBHOOK_ACTORS: must be positive"
        )
    if not e.webhook_backoff_seconds or any(d < 0 for d in e.webhook_backoff_seconds):
        raise ConfigError("CALLENGINE_WEBHOOK_BACKOFF: needs at least one non-negative delay")
    if e.retention_days <= 0:
        raise ConfigError("CALLENGINE_EVENT_RETENTION_DAYS: must be > 0")


MEDIA_MODES = ("streams", "sip")


def _validate_media(s: Settings) -> None:
    modes = {s.session.media_mode}
    for entry in s.session.media_mode_stores:
        store, sep, mode = entry.partition("=")
        try:
            uuid.UUID(store.strip())
        except ValueError:
            sep = ""
        if not sep:
            raise ConfigError(f"CALLENGINE_MEDIA_MODE_STORES: {entry!r} is not <store uuid>=streams|sip")
        modes.add(mode.strip())
    unknown = modes - set(MEDIA_MODES)
    if unknown:
        raise ConfigError(f"CALLENGINE_MEDIA_MODE(_STORES): {sorted(unknown)} not among {MEDIA_MODES}")
    if "sip" in modes and not (s.openai.sip_project_id and s.openai.webhook_secret.get()):
        raise ConfigError("SIP media mode needs OPENAI_SIP_PROJECT_ID and OPENAI_WEBHOOK_SECRET")


def validate_host(h: HostSettings) -> None:
    """The host section on its own (a node's own values are checked again after merging)."""
    from engine.telephony import public_url

    if h.max_connections < 1 or h.handshake_timeout_seconds <= 0:
        raise ConfigError("CALLENGINE_HOST_MAX_CONNECTIONS / _HANDSHAKE_TIMEOUT: must be > 0")
    if h.port_range:
        host_ports(h)  # refuses a malformed range
        if h.port:
            raise ConfigError("CALLENGINE_HOST_PORT and CALLENGINE_HOST_PORT_RANGE: set one, not both")
    public_url.check(h.public_url_template)


def host_ports(h: HostSettings) -> range | None:
    """The ports a host may bind: CALLENGINE_HOST_PORT_RANGE as a range, or None (use ``port``)."""
    if not h.port_range:
        return None
    m = re.fullmatch(r"\s*(\d{1,5})\s*-\s*(\d{1,5})\s*", h.port_range)
    if not m or not 0 < int(m.group(1)) <= int(m.group(2)) < 65536:
        raise ConfigError(
            f"CALLENGINE_HOST_PORT_RANGE: {h.port_range!r} is not first-last within 1..65535 (e.g. 20000-20003)"
        )
    return range(int(m.group(1)), int(m.group(2)) + 1)


def _validate_security(s: Settings) -> None:
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
    if s.database.app_url and not s.database.app_url.startswith(("postgresql://", "postgres://")):
        raise ConfigError("DATABASE_APP_URL: must be a postgresql:// URL")


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
            f"TWILIO_REGION={t.region}: unknown region{nearest(t.region, list(TWILIO_REGION_EDGES))}"
        )
    known_edges = sorted(set(TWILIO_REGION_EDGES.values()) | {"roaming"})
    if t.edge and t.edge not in known_edges:
        raise ConfigError(f"TWILIO_EDGE={t.edge}: unknown edge{nearest(t.edge, known_edges)}")
    if t.region != "us1" and not t.api_key_sid:
        raise ConfigError(
            f"TWILIO_REGION={t.region}: set TWILIO_API_KEY_SID and TWILIO_API_KEY_SECRET to an API key "
            "created in that region (account credentials only work in us1)"
        )


# (section, field) → environment variable ("" for a top-level field), derived from the
# declarations above for code that looks a variable up by field. Never edit it: declare the
# field with setting(env=...) instead.
_ENV_NAMES: dict[tuple[str, str], str] = {(i.section, i.name): i.env for i in fields()}
_FIELD_OF: dict[str, tuple[str, str]] = {env: key for key, env in _ENV_NAMES.items()}
