"""The settings sections: one frozen dataclass per ``[table]`` of the settings file.

Every field is declared with :func:`~engine.config_fields.setting` (its default, its
environment variable, its documentation); :class:`engine.config.Settings` holds one
of each section and is where they are read, merged and checked.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from engine.config_fields import setting
from engine.config_secrets import Secret


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
