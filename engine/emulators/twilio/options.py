"""Typed options of the Twilio emulator; fault knobs can be changed while it runs."""

from __future__ import annotations

import dataclasses

from engine.emulators.scenarios import ScenarioSet

DEFAULT_ACCOUNT_SID = "AC" + "0e" * 16
DEFAULT_AUTH_TOKEN = "emulator-auth-token-0123456789ab"  # public, offline only


@dataclasses.dataclass
class TwilioFaults:
    """Fault injection. Mutable: tests flip these on a running emulator."""

    rest_5xx_burst: int = 0
    """The next N REST requests answer 503 (Twilio error 20500-style body); counts down."""
    rest_latency_ms: float = 0.0
    """Added to every REST reply (real milliseconds, not scaled)."""
    refuse_stream: bool = False
    """Do not connect answered calls' media streams (the call then fails as Twilio's does, error 31920)."""
    close_stream_after_ms: float | None = None
    """Close each media stream this long (virtual ms) after it starts, without a ``stop``."""
    callback_latency_ms: float = 0.0
    """Delay before each status callback (virtual ms)."""
    rest_429_burst: int = 0
    """The next N call creates answer 429 (error 20429) with ``Retry-After``; counts down."""
    retry_after_s: int = 1
    """The ``Retry-After`` (seconds) sent with emulated 429s."""
    rest_500_burst: int = 0
    """The next N call creates answer 500 (error 20500) *without* placing the call; counts down."""
    late_create_ms: float = 0.0
    """Call creates are *placed* at once but answered this late (real ms): a client whose
    request timed out must not assume the call was not placed."""
    late_creates: int = 0
    """How many creates answer late (counts down; 0 with ``late_create_ms`` set = every one)."""


@dataclasses.dataclass
class TwilioEmulatorOptions:
    """Everything the Twilio emulator needs; every field has an offline default."""

    host: str = "127.0.0.1"
    port: int = 0
    """0 picks a free port."""
    account_sid: str = DEFAULT_ACCOUNT_SID
    auth_token: str = dataclasses.field(default=DEFAULT_AUTH_TOKEN, repr=False)
    api_keys: dict[str, str] = dataclasses.field(default_factory=dict, repr=False)
    """API keys accepted besides the auth token: ``{"SK…": secret}`` (Basic auth ``SK…:secret``)."""
    speed: float = 1.0
    """Time scale for ringing, pacing, durations: 1.0 = real time, 10 = ten times faster."""
    scenarios: ScenarioSet | None = None
    """Simulated customers; ``None`` = the default set shipped with the package."""
    calls_per_second: float | None = None
    """Creates allowed per (wall-clock) second; beyond it 429 / 20429. ``None`` = unlimited."""
    faults: TwilioFaults = dataclasses.field(default_factory=TwilioFaults)
    stream_open_timeout_s: float = 5.0
    """Real seconds to wait for the app's WebSocket handshake."""
    record_pacing: bool = False
    """Benchmarks: log each media tick's lateness (real ms) in ``CallRecord.pacing_late_ms``."""
    sip_gateway_url: str | None = None
    """Where ``<Dial><Sip>`` connects the customer: the OpenAI emulator's SIP side
    (``ws://…/v1/sip``). ``None``: SIP dials fail (no SIP stack offline). Settable at run time."""
    ca_file: str | None = None
    """A PEM bundle of extra certificate authorities trusted, beside the system's, for
    ``wss://`` streams and ``https://`` callbacks (an app behind a TLS proxy with a test CA).
    Certificates are always verified, as Twilio does."""

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError("speed: must be > 0")
        if self.calls_per_second is not None and not self.calls_per_second > 0:
            raise ValueError("calls_per_second: must be > 0 or None")
