"""The "existing system" tables the seed references: minimal but real."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from engine.domain import BusinessUserRole
from storage.models.base import UTC_NOW, Base, in_list
from storage.types import EncryptedText, UtcDateTime


class Business(Base):
    __tablename__ = "businesses"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, server_default=UTC_NOW)


class BusinessUser(Base):
    __tablename__ = "business_users"
    __table_args__ = (
        CheckConstraint(in_list("role", BusinessUserRole), name="role"),
        Index("idx_business_users_business", "business_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("businesses.id"), nullable=False)
    email: Mapped[str] = mapped_column(String(320), nullable=False, unique=True)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    created_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, server_default=UTC_NOW)


class Store(Base):
    __tablename__ = "stores"
    __table_args__ = (
        Index("idx_stores_business", "business_id"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    business_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("businesses.id"), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    timezone: Mapped[str] = mapped_column(
        String(64), nullable=False, server_default=text("'Europe/Stockholm'")
    )
    call_windows: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    """Per-store call windows for the dispatcher; NULL → the engine's defaults."""
    currency: Mapped[str] = mapped_column(String(3), nullable=False, server_default=text("'SEK'"))
    """ISO 4217 code of the store's purchase amounts (and so of its rewards)."""
    created_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, server_default=UTC_NOW)


class CustomerVerification(Base):
    __tablename__ = "customer_verifications"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount"),
        Index("idx_customer_verifications_store", "store_id"),
        Index("idx_customer_verifications_phone_bidx", "phone_bidx"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    store_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("stores.id"), nullable=False)
    phone_number: Mapped[str] = mapped_column(
        EncryptedText("customer_verifications", "phone_number"), nullable=False
    )
    phone_bidx: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """HMAC blind index of the E.164 phone; NULL once erased."""
    purchased_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2), nullable=False)
    verified_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False)
    created_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, server_default=UTC_NOW)
