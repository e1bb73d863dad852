"""The reward ledger's state machine: pure functions from (entry, facts) to the next entry.

One entry per assessed call. Its state says whether the reward may be paid:

- ``pending``: assessed, the fraud checks have not been folded in yet — held;
- ``under_review``: a suspicious check waits for a human decision — held;
- ``approved``: checked and clear (or cleared by a reviewer) — payable;
- ``withheld``: fraud (confirmed by a reviewer, or the automatic verdict) — amount 0;
- ``paid``: settled with a payout reference — final.

The amount is the purchase amount × the assessment's reward percentage, rounded
to the currency's minor unit (:mod:`engine.rewards.money`); a withheld entry
keeps the percentage for the record but its amount is 0. Until it is paid an
entry follows the records it comes from (a corrected purchase amount restates it). Re-analysis (a
re-assessment, a forced fraud re-check, a review decision) moves an unpaid
entry to whatever the facts now say, in either direction — a reviewer's
"false positive" releases a withheld reward. Only settling moves an entry to
``paid``, only from ``approved``; nothing moves it out again (money that left
is not recalled by the ledger: a later fraud finding is reported as
``late_fraud`` for a human to follow up).

The storage layer applies a :class:`Change` in one transaction with its audit
row (and, later, its outgoing event).
"""

from __future__ import annotations

import enum
from decimal import Decimal

import msgspec

from engine.errors import ConflictError
from engine.rewards.money import Money, percentage_of


class RewardState(enum.StrEnum):
    PENDING = "pending"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    WITHHELD = "withheld"
    PAID = "paid"

    @property
    def held(self) -> bool:
        """Waiting for fraud checks or a human: not payable yet, not refused either."""
        return self in (RewardState.PENDING, RewardState.UNDER_REVIEW)


ALLOWED: dict[RewardState | None, frozenset[RewardState]] = {
    None: frozenset(
        {RewardState.PENDING, RewardState.UNDER_REVIEW, RewardState.APPROVED, RewardState.WITHHELD}
    ),
    RewardState.PENDING: frozenset(
        {RewardState.PENDING, RewardState.UNDER_REVIEW, RewardState.APPROVED, RewardState.WITHHELD}
    ),
    RewardState.UNDER_REVIEW: frozenset(
        {RewardState.UNDER_REVIEW, RewardState.APPROVED, RewardState.WITHHELD}
    ),
    RewardState.APPROVED: frozenset(
        {RewardState.APPROVED, RewardState.UNDER_REVIEW, RewardState.WITHHELD, RewardState.PAID}
    ),
    RewardState.WITHHELD: frozenset({RewardState.WITHHELD, RewardState.UNDER_REVIEW, RewardState.APPROVED}),
    RewardState.PAID: frozenset({RewardState.PAID}),
}
"""Every move the ledger makes (a state to itself = the amount or reason may change)."""


class FraudStanding(msgspec.Struct, frozen=True):
    """What the fraud side says about a call right now.

    ``checked``: the fraud checks ran and their rows are stored; ``review_open``: a
    suspicious check was sent to manual review and no decision closed it (or the
    decision was "needs investigation"); ``fraudulent``: confirmed by a reviewer, or
    the automatic verdict crossed the fraud threshold.
    """

    checked: bool
    review_open: bool
    fraudulent: bool


class Entry(msgspec.Struct, frozen=True):
    """The ledger facts of one call's reward (storage adds ids and timestamps)."""

    state: RewardState
    purchase: Money
    reward_percentage: Decimal
    amount: Money
    reason: str
    settlement_reference: str | None = None


class Change(msgspec.Struct, frozen=True):
    """``before`` → ``after``; ``changed`` is False when nothing stored would differ."""

    before: Entry | None
    after: Entry
    late_fraud: bool = False

    @property
    def changed(self) -> bool:
        return self.before != self.after

    @property
    def state_changed(self) -> bool:
        return self.before is None or self.before.state != self.after.state


def target_state(standing: FraudStanding) -> tuple[RewardState, str]:
    """Where the facts point, with the reason (fraud wins over an open review, which wins over clear)."""
    if standing.fraudulent:
        return RewardState.WITHHELD, "fraud"
    if standing.review_open:
        return RewardState.UNDER_REVIEW, "manual_review_open"
    if not standing.checked:
        return RewardState.PENDING, "fraud_checks_open"
    return RewardState.APPROVED, "fraud_checks_clear"


def on_analysis(
    current: Entry | None, purchase: Money, reward_percentage: Decimal, standing: FraudStanding
) -> Change:
    """The entry after the assessment or the fraud verdict was (re)stored."""
    if current is not None and current.state is RewardState.PAID:
        return Change(current, current, late_fraud=standing.fraudulent)
    state, reason = target_state(standing)
    if state is RewardState.PENDING and current is not None and current.state is not RewardState.PENDING:
        # Fraud rows only disappear through retention; the ledger does not un-check a call.
        state, reason = current.state, current.reason
    _check(current.state if current else None, state)
    amount = (
        Money.zero(purchase.currency)
        if state is RewardState.WITHHELD
        else percentage_of(purchase, reward_percentage)
    )
    return Change(current, Entry(state, purchase, reward_percentage, amount, reason))


def settle(current: Entry | None, reference: str) -> Change:
    """Mark an approved reward paid under ``reference``; repeating it with the same reference is a no-op."""
    if current is None:
        raise ConflictError("no reward to settle: the call has no assessment yet")
    if current.state is RewardState.PAID:
        if current.settlement_reference == reference:
            return Change(current, current)
        raise ConflictError("reward already paid under another settlement reference")
    if current.state is not RewardState.APPROVED:
        raise ConflictError(f"reward is {current.state.value}; only approved rewards can be settled")
    after = msgspec.structs.replace(
        current, state=RewardState.PAID, reason="settled", settlement_reference=reference
    )
    _check(current.state, after.state)
    return Change(current, after)


def _check(before: RewardState | None, after: RewardState) -> None:
    if after not in ALLOWED[before]:  # pragma: no cover - the functions above only make allowed moves
        raise ConflictError(f"reward cannot move from {before} to {after}")
