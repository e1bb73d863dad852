"""What every row of the fault matrix (docs/reliability.md) asserts once its fault is over, on what
the database holds and what the Twilio emulator saw: no session stuck, every stored line once and
in order, no number rung twice at once, every completed call's analysis written with its status
(and, on the runtime, done and stored)."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter, defaultdict
from typing import Any

from engine.domain import SessionStatus
from engine.jobs.kinds import ANALYSIS_KINDS
from storage import Principal

TERMINAL_AT_TWILIO = ("completed", "busy", "no-answer", "failed", "canceled")


def ended_at(call: Any) -> Any:
    """When an emulated call reached its first terminal status."""
    return next(at for status, at in call.statuses if status in TERMINAL_AT_TWILIO)


def assert_never_rung_twice_at_once(twilio: Any) -> Counter[str]:
    """No number had two calls up at the same time; returns calls per number."""
    by_number: dict[str, list[Any]] = defaultdict(list)
    for call in twilio.calls:
        by_number[call.to].append(call)
    for number_calls in by_number.values():
        ordered = sorted(number_calls, key=lambda c: c.created_at)
        for earlier, later in itertools.pairwise(ordered):
            assert ended_at(earlier) <= later.created_at, "a number rung twice at once"
    return Counter({number: len(calls) for number, calls in by_number.items()})


def settled(record: Any) -> bool:
    """Not stuck: ended for good, or back in the queue with a time (nobody holds it)."""
    status = record.session_status
    return status.terminal or (
        status is SessionStatus.PENDING and record.next_attempt_at is not None and record.host_id is None
    )


async def assert_settled_in_order_and_enqueued(db: Any, ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """No session stuck, every line once and in order, each completed call's two analysis jobs
    written (exactly one per kind: they are keyed). Returns the completed sessions."""
    completed = []
    async with db.transaction(Principal.service()) as tx:
        for sid in ids:
            record = await tx.sessions.get(sid)
            assert settled(record), f"session {sid} stuck: {record.session_status} {record.phase}"
            orders = [line.message_order for line in await tx.transcripts.list_lines(sid)]
            assert orders == list(range(1, len(orders) + 1)), f"lines of {sid}: {orders}"
            if record.session_status is SessionStatus.COMPLETED:
                completed.append(sid)
                for kind in ANALYSIS_KINDS:
                    assert await tx.jobs.find(kind, f"{kind}:{sid}") is not None, (kind, sid)
    return completed
