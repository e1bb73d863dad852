"""Engine addition: the outgoing events (the outbox), see ``storage.repositories.events``."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Identity, Index, Integer, String, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import UtcDateTime


class OutgoingEvent(Base):
    """One thing that happened, for backend services (webhooks and WatchEvents).

    Written by ``emit_event()`` in the transaction of the change it reports, with one
    ``events.webhook`` job per configured endpoint. ``id`` is the idempotency key
    (``type:subject:version``). ``tx_id`` (the writing transaction's id) and ``seq``
    order the feed: a reader sees only events of transactions older than every one
    still running, so a cursor never skips an event that commits late. No personal
    data: ids, states, scores and amounts only.
    """

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("version >= 1", name="version"),
        Index("uq_events_seq", "seq", unique=True),
        Index("uq_events_subject_version", "type", "subject", "version", unique=True),
        Index("idx_events_feed", "tx_id", "seq"),
        Index("idx_events_store_feed", "store_id", "tx_id", "seq"),
        Index("idx_events_occurred", "occurred_at"),
    )

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), nullable=False)
    tx_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    type: Mapped[str] = mapped_column(String(64), nullable=False)
    store_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    subject: Mapped[str] = mapped_column(String(100), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    occurred_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
