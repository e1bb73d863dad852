"""The demo's plan: expected outcomes follow the scenarios, stores are stable, contexts validate."""

from __future__ import annotations

from engine.analysis.context import validate_business_context
from engine.demo.plan import business_context, expected_outcome, plan_calls, rebase, store_uuid
from engine.domain import MAX_RETRIES, FailureReason, SessionStatus
from engine.emulators.scenarios.loader import default_scenarios, parse_scenarios

ATTEMPTS = MAX_RETRIES + 1


def _scenario(**fields: object) -> object:
    base = {"name": "x", "phone": "+46701740699"}
    base.update(fields)
    return parse_scenarios({"scenarios": [base]}).scenarios[0]


def test_expected_outcomes_by_behaviour() -> None:
    assert expected_outcome(_scenario(), ATTEMPTS).status is SessionStatus.COMPLETED  # type: ignore[arg-type]
    busy = expected_outcome(_scenario(attempts=[{"outcome": "busy"}]), ATTEMPTS)  # type: ignore[arg-type]
    assert busy.status is SessionStatus.FAILED
    assert busy.matches(SessionStatus.FAILED, FailureReason.MAX_RETRIES.value)
    assert busy.matches(SessionStatus.FAILED, "busy")
    assert not busy.matches(SessionStatus.FAILED, "internal_error")
    retry = expected_outcome(
        _scenario(attempts=[{"outcome": "no-answer"}, {"outcome": "answer"}]),  # type: ignore[arg-type]
        ATTEMPTS,
    )
    assert retry.status is SessionStatus.COMPLETED
    opt_out = expected_outcome(_scenario(consent="Nej, ring inte igen."), ATTEMPTS)  # type: ignore[arg-type]
    assert opt_out.matches(SessionStatus.ABANDONED, FailureReason.OPTED_OUT.value)
    assert not opt_out.matches(SessionStatus.COMPLETED, None)
    early = expected_outcome(_scenario(hangup_after_seconds=3.0), ATTEMPTS)  # type: ignore[arg-type]
    assert early.status is SessionStatus.ABANDONED


def test_default_plan_covers_the_scenario_set() -> None:
    scenarios = default_scenarios()
    plan = plan_calls(scenarios, max_attempts=ATTEMPTS)
    assert len(plan) >= 25
    assert {c.store_key for c in plan} == {s.id for s in scenarios.stores}
    assert any(c.planned_fraud for c in plan)
    assert len({c.verification_id for c in plan}) == len(plan)
    small = plan_calls(scenarios, max_attempts=ATTEMPTS, limit=6)
    assert len(small) == 6
    assert len({c.scenario.tags[0] for c in small if c.scenario.tags}) == 6  # one per kind first


def test_store_ids_are_stable_and_contexts_validate() -> None:
    assert store_uuid("grocery-solna") == store_uuid("grocery-solna")
    assert store_uuid("grocery-solna") != store_uuid("cafe-sodermalm")
    for store in default_scenarios().stores:
        ctx = validate_business_context(business_context(store))
        assert ctx.question_configuration.questions


def test_rebase_keeps_weekday_and_local_time_within_the_past_week() -> None:
    import datetime as dt

    stockholm = dt.timezone(dt.timedelta(hours=1))
    original = dt.datetime(2026, 11, 18, 18, 5, tzinfo=stockholm)  # a Wednesday
    now = dt.datetime(2026, 11, 25, 16, 0, tzinfo=dt.UTC)  # Wednesday 17:00 local
    got = rebase(original, now)
    assert got.weekday() == original.weekday()
    assert (got.hour, got.minute) == (18, 5)
    assert got <= now
    assert now - got < dt.timedelta(days=7)
    later = dt.datetime(2026, 11, 25, 18, 0, tzinfo=dt.UTC)  # Wednesday 19:00 local: same day
    assert rebase(original, later).date() == dt.date(2026, 11, 25)
