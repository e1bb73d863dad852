"""Existing-system records the engine references: businesses, users, stores, verifications."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert

from engine.domain import BusinessUserRole
from engine.errors import ConflictError, NotFoundError, ValidationError
from engine.rewards.money import currency_code
from storage.crypto import normalize_phone
from storage.models import Business, BusinessUser, CustomerVerification, Store
from storage.models.base import table_of
from storage.records import JSON, StoreRecord, VerificationRecord
from storage.repositories._common import Repository, aware
from storage.types import ForRow

_STORE = table_of(Store)
_STORE_COLUMNS = (
    _STORE.c.id,
    _STORE.c.business_id,
    _STORE.c.name,
    _STORE.c.timezone,
    _STORE.c.call_windows,
    _STORE.c.currency,
)
_VERIFICATION = table_of(CustomerVerification)


def _amount(value: float | Decimal) -> Decimal:
    """NUMERIC(12,2): a Decimal must already be whole cents (money is never rounded silently)."""
    if isinstance(value, Decimal):
        if not value.is_finite() or value != value.quantize(Decimal("0.01")):
            raise ValidationError("amount", "must have at most 2 decimals")
        return value.quantize(Decimal("0.01"))
    return Decimal(str(round(float(value), 2)))


def _store(row: Any) -> StoreRecord:
    return StoreRecord(row.id, row.business_id, row.name, row.timezone, row.call_windows, row.currency)


def _timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError("timezone", "is not an IANA time zone name") from exc
    return name


class StoreRepository(Repository):
    async def upsert_business(self, business_id: uuid.UUID, name: str) -> None:
        if not name or len(name) > 200:
            raise ValidationError("name", "must be 1–200 characters")
        stmt = insert(Business).values(id=business_id, name=name, created_at=self.tx.now())
        await self.session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_={"name": name}))
        self.tx.audit("write", "businesses", business_id)

    async def upsert_business_user(
        self, user_id: uuid.UUID, business_id: uuid.UUID, email: str, role: BusinessUserRole
    ) -> None:
        values = {
            "id": user_id,
            "business_id": business_id,
            "email": email,
            "role": BusinessUserRole(role).value,
        }
        stmt = insert(BusinessUser).values(**values, created_at=self.tx.now())
        await self.session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=values))
        self.tx.audit("write", "business_users", user_id)

    async def upsert_store(
        self,
        store_id: uuid.UUID,
        business_id: uuid.UUID,
        name: str,
        timezone: str = "Europe/Stockholm",
        call_windows: JSON | None = None,
        currency: str | None = None,
    ) -> StoreRecord:
        """Create or update a store; ``currency`` None keeps the stored one (SEK for a new store)."""
        if not name or len(name) > 200:
            raise ValidationError("name", "must be 1–200 characters")
        values: dict[str, object] = {
            "id": store_id,
            "business_id": business_id,
            "name": name,
            "timezone": _timezone(timezone),
            "call_windows": call_windows,
        }
        if currency is not None:
            values["currency"] = currency_code(currency)
            if await self.tx.rewards.unpaid_in_other_currency(store_id, currency):
                # unpaid rewards follow their purchase's records: they would silently change currency
                raise ConflictError("the store has unpaid rewards in another currency; settle them first")
        stmt = insert(Store).values(**values, created_at=self.tx.now())
        await self.session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=values))
        self.tx.audit("write", "stores", store_id)
        return await self.get_store(store_id)

    async def get_store(self, store_id: uuid.UUID) -> StoreRecord:
        row = (
            await self.session.execute(select(*_STORE_COLUMNS).where(_STORE.c.id == store_id))
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"store {store_id} not found")
        return _store(row)

    async def list_stores(self) -> list[StoreRecord]:
        """Every store visible to the principal (all for service/admin)."""
        rows = await self.session.execute(select(*_STORE_COLUMNS).order_by(_STORE.c.id))
        return [_store(r) for r in rows]

    async def upsert_verification(
        self,
        verification_id: uuid.UUID,
        store_id: uuid.UUID,
        phone_e164: str,
        purchased_at: dt.datetime,
        amount: float | Decimal,
        verified_at: dt.datetime,
    ) -> VerificationRecord:
        phone = normalize_phone(phone_e164)
        if isinstance(amount, bool) or not isinstance(amount, int | float | Decimal) or amount < 0:
            raise ValidationError("amount", "must be a non-negative number")
        values = {
            "id": verification_id,
            "store_id": store_id,
            "phone_number": ForRow(verification_id, phone),
            "phone_bidx": self.tx.blind_index.of(phone),
            "purchased_at": aware("purchased_at", purchased_at),
            "amount": _amount(amount),
            "verified_at": aware("verified_at", verified_at),
        }
        stmt = insert(CustomerVerification).values(**values, created_at=self.tx.now())
        update = {k: v for k, v in values.items() if k != "id"}
        await self.session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=update))
        self.tx.audit("write", "customer_verifications", verification_id)
        return VerificationRecord(verification_id, store_id, phone, purchased_at, float(amount), verified_at)

    async def get_verification(self, verification_id: uuid.UUID) -> VerificationRecord:
        v = _VERIFICATION.c
        row = (
            await self.session.execute(
                select(v.id, v.store_id, v.phone_number, v.purchased_at, v.amount, v.verified_at).where(
                    v.id == verification_id
                )
            )
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"customer verification {verification_id} not found")
        self.tx.audit("read", "customer_verifications", verification_id, "phone_number")
        return VerificationRecord(
            row.id, row.store_id, row.phone_number, row.purchased_at, float(row.amount), row.verified_at
        )

    async def verification_store(self, verification_id: uuid.UUID) -> uuid.UUID:
        """The store of a verification, without reading its phone number.

        Goes through the SECURITY DEFINER ``verification_store()`` so a store owner can
        check their own verification while customer_verifications stays hidden from them.
        """
        store_id = (
            await self.session.execute(text("SELECT verification_store(:id)"), {"id": verification_id})
        ).scalar()
        if store_id is None:
            raise NotFoundError(f"customer verification {verification_id} not found")
        assert isinstance(store_id, uuid.UUID)
        return store_id
