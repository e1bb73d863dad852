"""The demo's weeks: earlier weeks are small samples on a clock set back whole weeks; the verdict
checks the reports cover every week and the backend got a signed event for every settled call."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from engine.demo.client import CallResult, DemoResult, WeekResult
from engine.demo.plan import WeekPlan, plan_weeks
from engine.demo.summary import verdict
from engine.domain import MAX_RETRIES, SessionStatus
from engine.emulators.scenarios.loader import default_scenarios

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def test_earlier_weeks_are_answered_honest_calls_in_their_own_week() -> None:
    weeks = plan_weeks(default_scenarios(), max_attempts=MAX_RETRIES + 1, history_weeks=3, now=NOW)
    assert [w.weeks_ago for w in weeks] == [3, 2, 1, 0]
    stores = {c.store_key for c in weeks[-1].calls}
    for week in weeks[:-1]:
        at = NOW - dt.timedelta(weeks=week.weeks_ago)
        assert {c.store_key for c in week.calls} == stores and len(week.calls) == 2 * len(stores)
        for call in week.calls:
            assert call.expected.status is SessionStatus.COMPLETED and not call.scenario.fraud
            assert not call.scenario.attempts, "the emulator counts attempts per phone across weeks"
            assert at - dt.timedelta(days=7) < call.purchase_time <= at
    # the oldest week leans to the weaker interviews: the reports get a trend to show
    weak = [
        sum(c.scenario.persona in ("critical", "brief") or "silence" in c.scenario.tags for c in w.calls)
        for w in weeks[:-1]
    ]
    assert weak[0] > weak[-1]
    assert len(weeks[-1].calls) == len(
        plan_weeks(default_scenarios(), max_attempts=4, history_weeks=0)[0].calls
    )


class FakeBackend:
    def __init__(self, settled: dict[str, dict[str, Any]], bad: int = 0) -> None:
        self._settled = settled
        self.bad_signatures = bad
        self.deliveries = len(settled)

    def settled(self) -> dict[str, dict[str, Any]]:
        return self._settled

    def counts(self) -> dict[str, int]:
        return {"call.settled": len(self._settled)}


def _result(weeks: list[WeekPlan], *, history_shown: int) -> DemoResult:
    results = []
    for plan in weeks:
        calls = {
            c.verification_id: CallResult(
                str(uuid.uuid4()), SessionStatus.COMPLETED, None, 0, 60, {"overall_quality_score": 0.5}
            )
            for c in plan.calls
        }
        results.append(WeekResult(plan.weeks_ago, dt.date(2026, 11, 23), calls, True, []))
    report = {
        "historical_comparison": {"weeks": [{"week": "2026-11-02", "feedback_count": 1}] * history_shown}
    }
    rewards = [
        {"session_id": c.session_id, "state": "REWARD_STATE_PAID"} for w in results for c in w.calls.values()
    ]
    stores = {c.store_key for w in weeks for c in w.calls}
    return DemoResult(results[-1].calls, True, [], [], rewards, None, results, {s: report for s in stores})


def test_verdict_wants_every_week_in_the_reports_and_every_settled_call_at_the_backend() -> None:
    scenarios = default_scenarios()
    weeks = plan_weeks(scenarios, max_attempts=4, history_weeks=2, per_store=1, now=NOW)
    weeks[-1] = WeekPlan(
        0,
        [
            c
            for c in weeks[-1].calls
            if not c.scenario.attempts
            and c.expected.status is SessionStatus.COMPLETED
            and not c.scenario.fraud
        ],
    )
    result = _result(weeks, history_shown=3)
    every = {c.session_id: {"data": {"status": "completed"}} for w in result.weeks for c in w.calls.values()}
    assert verdict(weeks, result, FakeBackend(every)) == []
    missing = dict(list(every.items())[1:])
    assert any("no call.settled event" in p for p in verdict(weeks, result, FakeBackend(missing)))
    assert any("bad signature" in p for p in verdict(weeks, result, FakeBackend(every, bad=1)))
    short = _result(weeks, history_shown=2)
    short_every = {
        c.session_id: {"data": {"status": "completed"}} for w in short.weeks for c in w.calls.values()
    }
    assert any("shows 2 weeks" in p for p in verdict(weeks, short, FakeBackend(short_every)))
