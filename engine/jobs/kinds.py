"""Job kinds the engine defines, and what enqueues them.

A kind is a dotted name; its handler lives with the code that owns the work
(see :mod:`engine.jobs.runner` for how a worker runs kinds). Enqueueing
happens in storage, in the same transaction as the change that calls for the
job, e.g. :meth:`storage.repositories.sessions.SessionRepository.transition`
enqueues both analysis jobs when a session becomes ``completed``.

``events.webhook`` (one event to one webhook endpoint) is defined with the events,
:data:`engine.events.types.WEBHOOK_KIND`; ``emit_event()`` enqueues it in the
transaction of the change the event reports.
"""

from __future__ import annotations

import uuid
from typing import Any

ASSESS = "analysis.assess"
"""Score a completed call (quality_assessments). Payload: ``{"session_id": str}``."""
FRAUD = "analysis.fraud"
"""Check a completed call for fraud and fold the verdict into its assessment. Same payload."""

ANALYSIS_KINDS = (ASSESS, FRAUD)
ANALYSIS_MAX_ATTEMPTS = 8


def analysis_jobs(session_id: uuid.UUID | str) -> list[tuple[str, dict[str, Any], str]]:
    """(kind, payload, idempotency key) of the jobs a completed session needs."""
    sid = str(session_id)
    return [(kind, {"session_id": sid}, f"{kind}:{sid}") for kind in ANALYSIS_KINDS]
