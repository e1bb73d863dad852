"""Looking up the store of a session (visible to the principal) for analysis writes."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from engine.errors import NotFoundError
from storage.models import FeedbackCallSession
from storage.models.base import table_of
from storage.tx import Tx

_S = table_of(FeedbackCallSession).c


async def store_of_session(tx: Tx, session_id: uuid.UUID) -> uuid.UUID:
    store_id = (await tx.session.execute(select(_S.store_id).where(_S.id == session_id))).scalar()
    if store_id is None:
        raise NotFoundError(f"call session {session_id} not found")
    return store_id
