"""Engine addition: the reward ledger, one entry per assessed call (see engine/rewards)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from engine.rewards.ledger import RewardState
from storage.models.base import UTC_NOW, Base, between, in_list
from storage.types import UtcDateTime


class RewardLedgerEntry(Base):
    """What the customer is owed for one call, and whether it may be paid.

    No personal data: amounts, ids and states only, so entries outlive the
    session's 90-day retention (they are bookkeeping records). Store owners read
    only totals (``reward_totals()``); admins and the service read and settle.
    """

    __tablename__ = "reward_ledger"
    __table_args__ = (
        CheckConstraint(in_list("state", RewardState), name="state"),
        CheckConstraint("amount >= 0", name="amount"),
        CheckConstraint("purchase_amount >= 0", name="purchase_amount"),
        CheckConstraint(between("reward_percentage", "2", "15"), name="reward_percentage"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency"),
        # a withheld reward pays nothing; the percentage stays as assessed
        CheckConstraint("state <> 'withheld' OR amount = 0", name="withheld_pays_nothing"),
        CheckConstraint(
            "(state = 'paid') = (paid_at IS NOT NULL AND settlement_reference IS NOT NULL)", name="paid"
        ),
        Index("uq_reward_ledger_session", "call_session_id", unique=True),
        Index("idx_reward_ledger_store_created", "store_id", "created_at"),
        Index("idx_reward_ledger_state_updated", "state", "updated_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    call_session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("feedback_call_sessions.id"), nullable=False
    )
    assessment_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("quality_assessments.id"), nullable=False
    )
    store_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("stores.id"), nullable=False)
    purchase_amount: Mapped[Decimal] = mapped_column(Numeric(12, 2), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    reward_percentage: Mapped[Decimal] = mapped_column(Numeric(4, 2), nullable=False)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2), nullable=False)
    state: Mapped[str] = mapped_column(String(20), nullable=False)
    state_reason: Mapped[str] = mapped_column(String(40), nullable=False)
    settlement_reference: Mapped[str | None] = mapped_column(String(100))
    settled_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False, server_default=UTC_NOW)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False, server_default=UTC_NOW)
