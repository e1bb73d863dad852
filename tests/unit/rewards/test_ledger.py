"""The reward state machine, exhaustively: every state × every fraud standing, and settling from each."""

from __future__ import annotations

import itertools
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import ConflictError
from engine.rewards.ledger import (
    ALLOWED,
    Entry,
    FraudStanding,
    RewardState,
    _check,
    on_analysis,
    settle,
    target_state,
)
from engine.rewards.money import Money

S = RewardState
PURCHASE = Money.of("249.50")
PCT = Decimal("6.75")
REWARD = Decimal("16.84")
STANDINGS = [FraudStanding(*flags) for flags in itertools.product((False, True), repeat=3)]


def entry(state: RewardState, amount: str = "16.84", ref: str | None = None) -> Entry:
    reason = "settled" if state is S.PAID else "x"
    return Entry(state, PURCHASE, PCT, Money.of(amount), reason, ref)


def expected_target(standing: FraudStanding) -> RewardState:
    if standing.fraudulent:
        return S.WITHHELD
    if standing.review_open:
        return S.UNDER_REVIEW
    return S.APPROVED if standing.checked else S.PENDING


@pytest.mark.parametrize("standing", STANDINGS, ids=str)
@pytest.mark.parametrize("state", [None, *RewardState], ids=str)
def test_every_state_under_every_standing(state: RewardState | None, standing: FraudStanding) -> None:
    current = None if state is None else entry(state, "0.00" if state is S.WITHHELD else "16.84", "R1")
    change = on_analysis(current, PURCHASE, PCT, standing)
    after = change.after
    if state is S.PAID:
        # final: nothing moves a paid reward; a fraud finding after payment is surfaced
        assert after == current and not change.changed and change.late_fraud is standing.fraudulent
        return
    want = expected_target(standing)
    if want is S.PENDING and state not in (None, S.PENDING):
        want = state  # a checked call is never "unchecked" again
    assert after.state is want
    assert after.state in ALLOWED[state]
    assert after.reward_percentage == PCT  # the assessment's 2–15 % is kept, even when withheld
    assert after.amount.amount == (Decimal("0.00") if want is S.WITHHELD else REWARD)
    assert after.settlement_reference is None and not change.late_fraud
    assert change.state_changed is (state is None or state is not want)


def test_target_state_reasons() -> None:
    assert target_state(FraudStanding(False, False, False)) == (S.PENDING, "fraud_checks_open")
    assert target_state(FraudStanding(True, False, False)) == (S.APPROVED, "fraud_checks_clear")
    assert target_state(FraudStanding(True, True, False)) == (S.UNDER_REVIEW, "manual_review_open")
    assert target_state(FraudStanding(True, True, True)) == (S.WITHHELD, "fraud")


def test_the_life_of_a_reward() -> None:
    pending = on_analysis(None, PURCHASE, PCT, FraudStanding(False, False, False)).after
    assert pending.state is S.PENDING and pending.state.held and pending.amount.amount == REWARD
    review = on_analysis(pending, PURCHASE, PCT, FraudStanding(True, True, False)).after
    assert review.state is S.UNDER_REVIEW and review.state.held
    withheld = on_analysis(review, PURCHASE, PCT, FraudStanding(True, False, True)).after
    assert withheld.state is S.WITHHELD and withheld.amount == Money.zero()
    released = on_analysis(withheld, PURCHASE, PCT, FraudStanding(True, False, False)).after  # false positive
    assert released.state is S.APPROVED and released.amount.amount == REWARD
    paid = settle(released, "payout-2026-47").after
    assert (
        paid.state is S.PAID
        and paid.settlement_reference == "payout-2026-47"
        and paid.amount.amount == REWARD
    )
    assert not settle(paid, "payout-2026-47").changed  # idempotent with the same reference


def test_reassessment_changes_the_amount_without_a_state_change() -> None:
    approved = entry(S.APPROVED)
    change = on_analysis(approved, PURCHASE, Decimal("15.00"), FraudStanding(True, False, False))
    assert change.changed and not change.state_changed and change.after.amount.amount == Decimal("37.43")
    same = on_analysis(change.after, PURCHASE, Decimal("15.00"), FraudStanding(True, False, False))
    assert not same.changed


@pytest.mark.parametrize("state", [None, *RewardState], ids=str)
def test_settle_from_every_state(state: RewardState | None) -> None:
    current = None if state is None else entry(state, ref="R1" if state is S.PAID else None)
    if state is S.APPROVED:
        change = settle(current, "R2")
        assert change.after.state is S.PAID and S.PAID in ALLOWED[state]
    elif state is S.PAID:
        assert not settle(current, "R1").changed
        with pytest.raises(ConflictError, match="another settlement reference"):
            settle(current, "R2")
    else:
        with pytest.raises(ConflictError):
            settle(current, "R2")


def test_an_unpaid_entry_follows_a_corrected_purchase() -> None:
    change = on_analysis(entry(S.APPROVED), Money.of("100.00"), PCT, FraudStanding(True, False, False))
    assert change.after.purchase == Money.of("100.00") and change.after.amount == Money.of("6.75")


def test_allowed_moves_are_closed_and_paid_is_final() -> None:
    assert ALLOWED[S.PAID] == {S.PAID}
    assert S.PAID not in ALLOWED[None]
    assert all(S.PAID not in ALLOWED[s] for s in S if s not in (S.APPROVED, S.PAID))
    assert all(s in ALLOWED[s] for s in S)  # an entry may be restated (amount, reason)


standings = st.builds(FraudStanding, st.booleans(), st.booleans(), st.booleans())
pcts = st.integers(min_value=200, max_value=1500).map(lambda n: Decimal(n).scaleb(-2))


@given(st.lists(st.one_of(st.tuples(standings, pcts), st.just("settle")), max_size=25))
def test_any_sequence_only_makes_allowed_moves(steps: list[tuple[FraudStanding, Decimal] | str]) -> None:
    """Whatever order assessments, verdicts, reviews and payouts arrive in, the invariants hold."""
    current: Entry | None = None
    paid_amount: Money | None = None
    for step in steps:
        before = current.state if current else None
        if step == "settle":
            if current is None or current.state not in (S.APPROVED, S.PAID):
                with pytest.raises(ConflictError):
                    settle(current, "R")
                continue
            current = settle(current, "R").after
        else:
            assert isinstance(step, tuple)
            current = on_analysis(current, PURCHASE, step[1], step[0]).after
        assert current.state in ALLOWED[before]
        assert (current.amount.amount == 0) or current.state is not S.WITHHELD
        if current.state is S.PAID:
            paid_amount = paid_amount or current.amount
            assert current.amount == paid_amount  # nothing changes a paid reward
        msgspec.structs.asdict(current)  # stays a plain record


def test_each_entry_keeps_the_reason_its_state_has() -> None:
    for standing, reason in [
        (FraudStanding(False, False, False), "fraud_checks_open"),
        (FraudStanding(True, False, False), "fraud_checks_clear"),
        (FraudStanding(True, True, False), "manual_review_open"),
        (FraudStanding(True, False, True), "fraud"),
    ]:
        assert on_analysis(None, PURCHASE, PCT, standing).after.reason == reason
    # A checked entry that the facts no longer call checked keeps its own state and reason.
    kept = on_analysis(entry(S.UNDER_REVIEW), PURCHASE, PCT, FraudStanding(False, False, False)).after
    assert (kept.state, kept.reason) == (S.UNDER_REVIEW, "x")


def test_settling_records_the_payment_and_what_it_replaced() -> None:
    approved = entry(S.APPROVED)
    change = settle(approved, "payout-47")
    assert change.before == approved
    assert change.after == Entry(S.PAID, PURCHASE, PCT, Money.of("16.84"), "settled", "payout-47")
    assert change.changed and change.state_changed and not change.late_fraud


def test_what_settling_refuses_says_why() -> None:
    def refused(current: Entry | None, reference: str) -> str:
        with pytest.raises(ConflictError) as raised:
            settle(current, reference)
        return str(raised.value)

    assert refused(None, "R") == "no reward to settle: the call has no assessment yet"
    assert refused(entry(S.PAID, ref="R1"), "R2") == "reward already paid under another settlement reference"
    assert (
        refused(entry(S.UNDER_REVIEW), "R") == "reward is under_review; only approved rewards can be settled"
    )
    assert (
        refused(entry(S.WITHHELD, "0.00"), "R") == "reward is withheld; only approved rewards can be settled"
    )


def test_the_guard_refuses_a_move_outside_the_table() -> None:
    # No public path makes such a move (the exhaustive tests above show it); the guard names it if one ever does.
    with pytest.raises(ConflictError) as raised:
        _check(S.PAID, S.APPROVED)
    assert str(raised.value) == "reward cannot move from paid to approved"
    _check(None, S.PENDING)  # an allowed move passes
