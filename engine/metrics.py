"""The engine's runtime metrics, as data: names, kinds, descriptions, tag keys.

``actors/metrics.py`` turns these into ``ray.util.metrics`` objects, which the
Ray dashboard and its Prometheus export show (prefixed ``ray_``). Tag keys are
a short fixed list of low-cardinality values: never a session, call, phone or
verification id (a metric label per call would be both a privacy leak and a
cardinality explosion).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    GAUGE = "gauge"
    COUNTER = "counter"
    HISTOGRAM = "histogram"


@dataclass(frozen=True)
class MetricSpec:
    name: str
    kind: Kind
    description: str
    tag_keys: tuple[str, ...] = ()
    boundaries: tuple[float, ...] = ()


ALLOWED_TAG_KEYS = frozenset(
    {
        "host",
        "node",
        "status",
        "failure_reason",
        "pool",
        "account",
        "outcome",
        "kind",
        "state",
        "step",
        "provider",
        "endpoint",
    }
)
"""Every tag key any metric may use. ``endpoint`` is a webhook endpoint's configured name
(never its URL). ``host`` is a SessionHost's reusable slot label (``slot0``…,
bounded by the number of hosts alive at once, not by every host id ever started),
``account`` a Twilio account sid (a handful)."""

FORBIDDEN_TAG_WORDS = ("session", "call_sid", "phone", "verification", "customer", "store", "transcript")

ACTIVE_CALLS = MetricSpec("callengine_active_calls", Kind.GAUGE, "Calls in progress on a host.", ("host",))
FREE_SLOTS = MetricSpec("callengine_free_slots", Kind.GAUGE, "Free call slots on a host.", ("host",))
HOSTS = MetricSpec("callengine_session_hosts", Kind.GAUGE, "SessionHosts known to the dispatcher.")
QUEUE_DEPTH = MetricSpec(
    "callengine_dispatch_queue_depth", Kind.GAUGE, "Pending sessions due now (dispatch backlog)."
)
DIALS = MetricSpec(
    "callengine_dials_total", Kind.COUNTER, "Calls handed to a host to dial (rate = dial rate).", ("account",)
)
OUTCOMES = MetricSpec(
    "callengine_call_outcomes_total",
    Kind.COUNTER,
    "Finished call attempts by status and failure reason.",
    ("status", "failure_reason"),
)
RETRIES = MetricSpec(
    "callengine_retries_scheduled_total", Kind.COUNTER, "Retries scheduled.", ("failure_reason",)
)
HOST_LOST = MetricSpec(
    "callengine_hosts_lost_total", Kind.COUNTER, "SessionHosts that died with calls on them."
)
TURN_LATENCY = MetricSpec(
    "callengine_turn_latency_ms",
    Kind.HISTOGRAM,
    "Customer stops speaking → first AI audio, per turn (ms).",
    ("host",),
    (50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000),
)
ANALYSES = MetricSpec(
    "callengine_analyses_total",
    Kind.COUNTER,
    "Post-call analysis jobs finished (rate = assessments per second).",
    ("pool", "outcome"),
)
POOL_IN_FLIGHT = MetricSpec("callengine_pool_in_flight", Kind.GAUGE, "Analysis jobs running.", ("pool",))

JOBS = MetricSpec(
    "callengine_jobs",
    Kind.GAUGE,
    "Jobs in the durable queue by kind and state (dead = dead-lettered).",
    ("kind", "state"),
)
JOB_LAG = MetricSpec(
    "callengine_job_lag_seconds",
    Kind.GAUGE,
    "How long the oldest due queued job of a kind has waited.",
    ("kind",),
)
JOB_RUNS = MetricSpec(
    "callengine_job_runs_total",
    Kind.COUNTER,
    "Job runs finished, by kind and outcome (done/retry/dead).",
    ("kind", "outcome"),
)
TICK_STEP = MetricSpec(
    "callengine_dispatcher_step_seconds",
    Kind.HISTOGRAM,
    "Time one dispatcher tick step took (heartbeat, reconcile, dispatch, scale, jobs).",
    ("step", "outcome"),
    (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BREAKER = MetricSpec(
    "callengine_provider_breaker",
    Kind.GAUGE,
    "Circuit breaker per provider: 0 closed (dialling), 1 half-open (probing), 2 open (not dialling).",
    ("provider",),
)

WEBHOOK_DELIVERIES = MetricSpec(
    "callengine_webhook_deliveries_total",
    Kind.COUNTER,
    "Webhook delivery attempts by endpoint name and outcome (delivered, failed = will retry, dead). "
    "Dead letters waiting for an operator: callengine_jobs{kind=events.webhook,state=dead}.",
    ("endpoint", "outcome"),
)
WEBHOOK_SECONDS = MetricSpec(
    "callengine_webhook_seconds",
    Kind.HISTOGRAM,
    "Time one webhook delivery attempt took, by endpoint name.",
    ("endpoint",),
    (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

TWILIO_THROTTLED = MetricSpec(
    "callengine_twilio_throttled_total",
    Kind.COUNTER,
    "Heartbeats in which a host reported a Twilio 429 (the Dispatcher slowed its dialling).",
)
DIAL_RATE = MetricSpec(
    "callengine_dial_rate_limit",
    Kind.GAUGE,
    "Calls per second the Dispatcher currently allows (below the configured rate after a 429).",
)
HOST_REJECTED = MetricSpec(
    "callengine_host_rejected_total",
    Kind.COUNTER,
    "Requests a SessionHost refused (forged signatures, bad or replayed tokens, malformed frames, "
    "connection cap, …), by kind: reported through the heartbeat. A rising count is an attack or a "
    "misconfigured proxy.",
    ("kind",),
)

ALL: tuple[MetricSpec, ...] = (
    HOST_REJECTED,
    WEBHOOK_DELIVERIES,
    WEBHOOK_SECONDS,
    TWILIO_THROTTLED,
    DIAL_RATE,
    JOBS,
    JOB_LAG,
    JOB_RUNS,
    TICK_STEP,
    BREAKER,
    ACTIVE_CALLS,
    FREE_SLOTS,
    HOSTS,
    QUEUE_DEPTH,
    DIALS,
    OUTCOMES,
    RETRIES,
    HOST_LOST,
    TURN_LATENCY,
    ANALYSES,
    POOL_IN_FLIGHT,
)


def check_tags(spec: MetricSpec, tags: dict[str, str]) -> dict[str, str]:
    """Return ``tags`` if they are exactly the spec's keys; raise otherwise (a bug, not input)."""
    if set(tags) != set(spec.tag_keys):
        raise ValueError(f"{spec.name}: tags {sorted(tags)} != {sorted(spec.tag_keys)}")
    return tags
