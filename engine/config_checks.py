"""The settings' cross-field checks (what one field's type cannot say), and the helpers
that read checked values: a host's port range and Twilio's edge and region."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

from engine.config_fields import nearest
from engine.config_sections import HostSettings, TwilioSettings
from engine.errors import ConfigError

if TYPE_CHECKING:
    from engine.config import Settings

_COUNTRY_CODE_RE = re.compile(r"^\+[1-9][0-9]{0,3}$")


def validate(s: Settings) -> None:
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
