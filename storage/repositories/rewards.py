"""reward_ledger: one entry per assessed call; every change audited in the same transaction.

The state machine is pure (:mod:`engine.rewards.ledger`); this module reads the
facts it needs (the assessment's percentage, the purchase amount and the store's
currency, all as Decimal), applies a :class:`~engine.rewards.ledger.Change` and
records it. :meth:`RewardRepository._record_change` is the one place a change is
written, so everything that accompanies a change goes there: its audit row and its
``reward.changed`` event.
"""

from __future__ import annotations

import builtins
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, text, update

from engine.errors import NotFoundError, ValidationError
from engine.events.types import REWARD_CHANGED
from engine.rewards import ledger
from engine.rewards.ledger import Change, Entry, FraudStanding, RewardState
from engine.rewards.money import Money
from storage.models import (
    CustomerVerification,
    FeedbackCallSession,
    QualityAssessment,
    RewardLedgerEntry,
    Store,
)
from storage.models.base import table_of
from storage.records import Page, RewardEntry, RewardFilter, RewardTotal
from storage.repositories._common import Repository, aware, page_size

_T = table_of(RewardLedgerEntry)
_C = _T.c
_QA_T, _ST_T = table_of(QualityAssessment), table_of(Store)
_S_T, _V_T = table_of(FeedbackCallSession), table_of(CustomerVerification)
_QA, _S, _V, _ST = _QA_T.c, _S_T.c, _V_T.c, _ST_T.c
_TOTALS = text("SELECT state, currency, entries, amount FROM reward_totals(:store_id, :since, :until)")
MAX_SETTLE = 500


def _naive_utc(field: str, value: dt.datetime) -> dt.datetime:
    return aware(field, value).astimezone(dt.UTC).replace(tzinfo=None)


def _entry(r: Any) -> Entry:
    return Entry(
        state=RewardState(r.state),
        purchase=Money.of(r.purchase_amount, r.currency),
        reward_percentage=r.reward_percentage,
        amount=Money.of(r.amount, r.currency),
        reason=r.state_reason,
        settlement_reference=r.settlement_reference,
    )


def _record(r: Any) -> RewardEntry:
    e = _entry(r)
    return RewardEntry(
        id=r.id,
        call_session_id=r.call_session_id,
        assessment_id=r.assessment_id,
        store_id=r.store_id,
        state=e.state,
        state_reason=e.reason,
        purchase=e.purchase,
        reward_percentage=e.reward_percentage,
        amount=e.amount,
        created_at=r.created_at,
        updated_at=r.updated_at,
        settlement_reference=r.settlement_reference,
        settled_by=r.settled_by,
        paid_at=r.paid_at,
    )


def _values(e: Entry) -> dict[str, Any]:
    return {
        "purchase_amount": e.purchase.amount,
        "currency": e.purchase.currency,
        "reward_percentage": e.reward_percentage,
        "amount": e.amount.amount,
        "state": e.state.value,
        "state_reason": e.reason,
        "settlement_reference": e.settlement_reference,
    }


class RewardRepository(Repository):
    async def sync(
        self, session_id: uuid.UUID, standing: FraudStanding, now: dt.datetime
    ) -> RewardEntry | None:
        """Create or restate the call's entry from its assessment and ``standing``; None if not assessed.

        Call it in the transaction that stored the assessment or folded the fraud verdict, under
        the session's analysis lock (engine/analysis/service.py): that lock is what keeps two
        writers from both creating the entry.
        """
        basis = (
            await self.session.execute(
                select(_QA.id, _QA.store_id, _QA.reward_percentage, _V.amount, _ST.currency)
                .join(_S_T, _S.id == _QA.call_session_id)
                .join(_V_T, _V.id == _S.customer_verification_id)
                .join(_ST_T, _ST.id == _QA.store_id)
                .where(_QA.call_session_id == session_id)
            )
        ).one_or_none()
        if basis is None:
            return None
        row = await self._locked_one(session_id)
        current = _entry(row) if row is not None else None
        change = ledger.on_analysis(
            current, Money.of(basis.amount, basis.currency), basis.reward_percentage, standing
        )
        if change.late_fraud and row is not None:
            self.tx.audit("flag", "reward_ledger", row.id, "fraud found after the reward was paid")
        if not change.changed:
            assert row is not None
            return _record(row)
        if row is None:
            values = {
                "id": uuid.uuid4(),
                "call_session_id": session_id,
                "assessment_id": basis.id,
                "store_id": basis.store_id,
                "created_at": aware("now", now),
                "updated_at": now,
                **_values(change.after),
            }
            stored = (await self.session.execute(insert(_T).values(**values).returning(*_T.c))).one()
        else:
            stored = (
                await self.session.execute(
                    update(_T)
                    .where(_C.id == row.id)
                    .values(assessment_id=basis.id, updated_at=aware("now", now), **_values(change.after))
                    .returning(*_T.c)
                )
            ).one()
        return await self._record_change(stored, change, now)

    async def settle(
        self,
        session_ids: Sequence[uuid.UUID],
        reference: str,
        settled_by: uuid.UUID | None,
        now: dt.datetime,
    ) -> builtins.list[RewardEntry]:
        """Mark approved rewards paid under ``reference``, all or none (repeats are no-ops)."""
        if not 1 <= len(session_ids) <= MAX_SETTLE:
            raise ValidationError("session_ids", f"1–{MAX_SETTLE} per settlement")
        wanted = list(dict.fromkeys(session_ids))
        rows = (
            await self.session.execute(
                # one lock order for every settlement: two overlapping payouts cannot deadlock
                select(*_T.c).where(_C.call_session_id.in_(wanted)).order_by(_C.id).with_for_update()
            )
        ).all()
        by_session = {r.call_session_id: r for r in rows}
        missing = [s for s in wanted if s not in by_session]
        if missing:
            raise NotFoundError(f"no reward for call session {missing[0]}")
        out: list[RewardEntry] = []
        for session_id in wanted:
            row = by_session[session_id]
            change = ledger.settle(_entry(row), reference)
            if not change.changed:
                out.append(_record(row))
                continue
            stored = (
                await self.session.execute(
                    update(_T)
                    .where(_C.id == row.id)
                    .values(
                        **_values(change.after),
                        settled_by=settled_by,
                        paid_at=aware("now", now),
                        updated_at=now,
                    )
                    .returning(*_T.c)
                )
            ).one()
            out.append(await self._record_change(stored, change, now))
        return out

    async def _record_change(self, row: Any, change: Change, now: dt.datetime) -> RewardEntry:
        """Everything that accompanies a ledger change, in its transaction: the audit row, the event."""
        before = change.before.state.value if change.before else "new"
        after = change.after
        self.tx.audit(
            "write",
            "reward_ledger",
            row.id,
            f"{before} → {after.state.value}: {after.amount} ({after.reason})",
        )
        record = _record(row)
        await self.tx.events.emit(
            REWARD_CHANGED,
            record.store_id,
            str(record.call_session_id),
            {
                "reward_id": str(record.id),
                "session_id": str(record.call_session_id),
                "store_id": str(record.store_id),
                "state": record.state.value,
                "previous_state": change.before.state.value if change.before else None,
                "state_reason": record.state_reason,
                "amount": str(record.amount.amount),
                "currency": record.amount.currency,
                "reward_percentage": str(record.reward_percentage),
                "purchase_amount": str(record.purchase.amount),
                "settlement_reference": record.settlement_reference,
            },
            now,
        )
        return record

    async def _locked_one(self, session_id: uuid.UUID) -> Any:
        return (
            await self.session.execute(
                select(*_T.c).where(_C.call_session_id == session_id).with_for_update()
            )
        ).one_or_none()

    async def get_by_session(self, session_id: uuid.UUID) -> RewardEntry:
        row = (
            await self.session.execute(select(*_T.c).where(_C.call_session_id == session_id))
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"no reward for call session {session_id}")
        return _record(row)

    async def list(
        self, flt: RewardFilter | None = None, page_size_: int = 50, page_token: str | None = None
    ) -> Page[RewardEntry]:
        """Newest first (by creation), filtered; admins and the service only (RLS)."""
        flt = flt or RewardFilter()
        size = page_size(page_size_)
        stmt = select(*_T.c)
        if flt.store_id is not None:
            stmt = stmt.where(_C.store_id == flt.store_id)
        if flt.state is not None:
            stmt = stmt.where(_C.state == RewardState(flt.state).value)
        page = await self.newest_first(stmt, _C, _record, flt.since, flt.until, size, page_token)
        self.tx.audit("read", "reward_ledger", None, f"{len(page.items)} rows")
        return page

    async def totals(
        self, store_id: uuid.UUID, since: dt.datetime, until: dt.datetime
    ) -> builtins.list[RewardTotal]:
        """Per state and currency; allowed for the store's owner (SECURITY DEFINER ``reward_totals``)."""
        params = {
            "store_id": store_id,
            "since": _naive_utc("since", since),
            "until": _naive_utc("until", until),
        }
        rows = await self.session.execute(_TOTALS, params)
        return [
            RewardTotal(RewardState(r.state), int(r.entries), Money.of(r.amount, r.currency)) for r in rows
        ]

    async def unpaid_in_other_currency(self, store_id: uuid.UUID, currency: str) -> int:
        """Entries of the store not yet paid whose currency differs (a currency change would restate them)."""
        stmt = select(_C.id).where(
            _C.store_id == store_id, _C.state != RewardState.PAID.value, _C.currency != currency
        )
        return len((await self.session.execute(stmt.limit(1000))).all())
