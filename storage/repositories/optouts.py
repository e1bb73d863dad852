"""phone_opt_outs: numbers never to be dialled again, stored as blind index only."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from engine.errors import ValidationError
from storage.models import PhoneOptOut
from storage.models.base import table_of
from storage.repositories._common import Repository

_T = table_of(PhoneOptOut)


class OptOutRepository(Repository):
    async def add_opt_out(self, phone: str, source: str = "customer") -> None:
        if not source or len(source) > 20:
            raise ValidationError("source", "must be 1–20 characters")
        bidx = self.tx.blind_index.of(phone)
        await self.session.execute(
            insert(_T)
            .values(phone_bidx=bidx, source=source, created_at=self.tx.now())
            .on_conflict_do_nothing(index_elements=["phone_bidx"])
        )
        self.tx.audit("write", "phone_opt_outs", None, f"opt-out ({source})")

    async def is_opted_out(self, phone: str) -> bool:
        bidx = self.tx.blind_index.of(phone)
        found = (await self.session.execute(select(_T.c.phone_bidx).where(_T.c.phone_bidx == bidx))).first()
        return found is not None
