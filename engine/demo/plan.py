"""What the demo will do, decided from the scenario set before anything runs.

Pure functions: stores and their business contexts, the verifications to seed,
and for each phone what outcome the scenario plans, so the summary can tell a
planned failure (a busy line) from an unplanned one (an engine error).

The demo runs several weeks (:func:`plan_weeks`): the earlier weeks are small
samples of the answered, single-attempt scenarios of each store (weaker
interviews first, stronger ones later, so the reports have a trend to show),
each placed in its own week; the current week is the whole scenario set.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from engine.domain import FailureReason, SessionStatus
from engine.emulators.scenarios.loader import ScenarioSet
from engine.emulators.scenarios.profile import business_context as business_context
from engine.emulators.scenarios.schema import Scenario, Turn

# Store ids are stable across runs (uuid5 of the scenario store id), so a second
# run updates the same stores instead of adding new ones.
_NAMESPACE = uuid.UUID("6f1d2c0e-5d1b-4c1e-9a57-2f0c3b7d9e11")
BUSINESS_ID = uuid.uuid5(_NAMESPACE, "business:demo")
BUSINESS_NAME = "Demo Handel AB"

_FAILURE_BY_OUTCOME = {
    "no-answer": FailureReason.NO_ANSWER,
    "busy": FailureReason.BUSY,
    "failed": FailureReason.CALL_FAILED,
    "voicemail": FailureReason.VOICEMAIL,
}


def store_uuid(store_id: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"store:{store_id}")


@dataclasses.dataclass(frozen=True)
class Expected:
    """The outcome a scenario plans: a status and, for failures, the reason."""

    status: SessionStatus
    failure_reason: str | None = None
    retries_exhausted: bool = False
    """Every attempt fails: the Dispatcher gives up with ``max_retries_exceeded``."""

    def matches(self, status: SessionStatus, failure_reason: str | None) -> bool:
        if status is not self.status:
            return False
        if self.retries_exhausted and failure_reason == FailureReason.MAX_RETRIES.value:
            return True
        return self.failure_reason is None or self.failure_reason == failure_reason

    def describe(self) -> str:
        return f"{self.status}" + (f" ({self.failure_reason})" if self.failure_reason else "")


@dataclasses.dataclass(frozen=True)
class PlannedCall:
    verification_id: uuid.UUID
    store_id: uuid.UUID
    store_key: str
    phone: str
    purchase_time: dt.datetime
    amount: str
    scenario: Scenario
    expected: Expected

    @property
    def planned_fraud(self) -> str | None:
        return self.scenario.fraud


def _says(turn: str | Turn) -> str:
    return turn if isinstance(turn, str) else (turn.say or "")


def expected_outcome(scenario: Scenario, max_attempts: int) -> Expected:
    """The final outcome after the engine's retries, as the scenario plans it."""
    attempts = scenario.attempts or []
    # Attempt n uses attempts[min(n, len-1)]; the engine dials at most max_attempts times.
    outcomes = [
        attempts[min(n, len(attempts) - 1)].outcome if attempts else "answer" for n in range(max_attempts)
    ]
    answered = next((o for o in outcomes if o == "answer"), None)
    if answered is None:
        reason = _FAILURE_BY_OUTCOME[outcomes[-1]]
        return Expected(SessionStatus.FAILED, reason.value, retries_exhausted=reason.retryable)
    if scenario.expect is not None:
        status, _, failure = scenario.expect.partition("/")
        return Expected(SessionStatus(status), failure or None)
    turns = [scenario.consent, *scenario.answers]
    spoken = " ".join(_says(t).lower() for t in turns)
    dtmf = any(isinstance(t, Turn) and t.dtmf for t in turns)
    if "ring inte igen" in spoken or dtmf:
        return Expected(SessionStatus.ABANDONED, FailureReason.OPTED_OUT.value)
    hangs_up = scenario.hangup_after_seconds is not None or any(
        isinstance(t, Turn) and t.hangup for t in turns
    )
    if hangs_up:
        return Expected(SessionStatus.ABANDONED)
    return Expected(SessionStatus.COMPLETED)


def rebase(purchase_time: dt.datetime, now: dt.datetime) -> dt.datetime:
    """The latest moment before ``now`` on the same weekday at the same local time.

    Scenario files carry fixed dates; the demo moves each purchase into the past
    week so the verification-to-call gap is realistic, while weekday and hour —
    what opening hours (and the outside-hours fraud persona) depend on — stay.
    """
    local_now = now.astimezone(purchase_time.tzinfo)
    days_back = (local_now.weekday() - purchase_time.weekday()) % 7
    candidate = purchase_time.replace(
        year=local_now.year, month=local_now.month, day=local_now.day
    ) - dt.timedelta(days=days_back)
    if candidate > local_now:
        candidate -= dt.timedelta(days=7)
    return candidate


def plan_calls(
    scenarios: ScenarioSet, *, max_attempts: int, limit: int | None = None, now: dt.datetime | None = None
) -> list[PlannedCall]:
    """One planned call per scenario verification, in file order (``limit`` keeps the first N)."""
    now = now or dt.datetime.now(dt.UTC)
    calls: list[PlannedCall] = []
    for scenario in scenarios.scenarios:
        expected = expected_outcome(scenario, max_attempts)
        for verification in scenario.verifications:
            calls.append(
                PlannedCall(
                    verification_id=uuid.uuid4(),
                    store_id=store_uuid(verification.store),
                    store_key=verification.store,
                    phone=scenario.phone,
                    purchase_time=rebase(verification.purchase_time, now),
                    amount=f"{verification.amount_sek:.2f}",
                    scenario=scenario,
                    expected=expected,
                )
            )
    if limit is not None:
        calls = _spread(calls, limit)
    return calls


WEAK_PERSONAS = frozenset({"critical", "brief"})
WEAK_TAGS = frozenset({"silence", "goodbye", "impairment", "barge-in"})


@dataclasses.dataclass(frozen=True)
class WeekPlan:
    weeks_ago: int
    """0 = the current week; n = the engine's clock set back n whole weeks."""
    calls: list[PlannedCall]


def _history_candidates(scenarios: ScenarioSet, max_attempts: int) -> dict[str, list[Scenario]]:
    """Per store: scenarios that are answered at once, complete, commit no fraud and buy there once."""
    out: dict[str, list[Scenario]] = {}
    for sc in scenarios.scenarios:
        if sc.fraud or sc.attempts or len(sc.verifications) != 1:
            continue
        if expected_outcome(sc, max_attempts).status is not SessionStatus.COMPLETED:
            continue
        out.setdefault(sc.verifications[0].store, []).append(sc)
    for store in out:
        # weaker interviews first: the earliest week gets them, the latest the stronger ones
        out[store].sort(key=lambda sc: (not _weak(sc), sc.name))
    return out


def _weak(sc: Scenario) -> bool:
    return (sc.persona or "") in WEAK_PERSONAS or bool(WEAK_TAGS & set(sc.tags))


def plan_weeks(
    scenarios: ScenarioSet,
    *,
    max_attempts: int,
    history_weeks: int,
    per_store: int = 2,
    limit: int | None = None,
    now: dt.datetime | None = None,
) -> list[WeekPlan]:
    """``history_weeks`` earlier weeks (oldest first, ``per_store`` calls per store each), then this week.

    Week ``n`` weeks ago is planned at ``now - n weeks``: its purchases lie in the week before
    that moment, exactly as the engine will see them on its shifted clock.
    """
    now = now or dt.datetime.now(dt.UTC)
    candidates = _history_candidates(scenarios, max_attempts)
    weeks: list[WeekPlan] = []
    for n in range(history_weeks, 0, -1):
        at = now - dt.timedelta(weeks=n)
        step = history_weeks - n  # 0 for the oldest week
        calls = []
        for store in sorted(candidates):
            pool = candidates[store]
            for k in range(min(per_store, len(pool))):
                sc = pool[(step * per_store // max(1, history_weeks - 1) + k) % len(pool)]
                v = sc.verifications[0]
                calls.append(
                    PlannedCall(
                        verification_id=uuid.uuid4(),
                        store_id=store_uuid(store),
                        store_key=store,
                        phone=sc.phone,
                        purchase_time=rebase(v.purchase_time, at),
                        amount=f"{v.amount_sek:.2f}",
                        scenario=sc,
                        expected=expected_outcome(sc, max_attempts),
                    )
                )
        weeks.append(WeekPlan(n, calls))
    weeks.append(WeekPlan(0, plan_calls(scenarios, max_attempts=max_attempts, limit=limit, now=now)))
    return weeks


def _spread(calls: list[PlannedCall], limit: int) -> list[PlannedCall]:
    """Keep ``limit`` calls, taking one per scenario tag first so a small run still covers the cases."""
    chosen: list[PlannedCall] = []
    seen: set[str] = set()
    for call in calls:
        key = call.scenario.tags[0] if call.scenario.tags else call.scenario.name
        if key not in seen:
            seen.add(key)
            chosen.append(call)
    for call in calls:
        if len(chosen) >= limit:
            break
        if call not in chosen:
            chosen.append(call)
    return chosen[:limit]
