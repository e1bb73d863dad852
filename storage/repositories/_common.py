"""Small helpers shared by the repositories: validation, page tokens and newest-first pages, row mapping."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from sqlalchemy import and_, or_

from engine.errors import ValidationError
from storage.records import Page
from storage.tx import Tx


class _Dated(Protocol):
    @property
    def id(self) -> uuid.UUID | None: ...

    @property
    def created_at(self) -> dt.datetime | None: ...


R = TypeVar("R", bound=_Dated)


class Repository:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self.session = tx.session
        self.principal = tx.principal

    async def newest_first(
        self,
        stmt: Any,
        columns: Any,
        record: Callable[[Any], R],
        since: dt.datetime | None,
        until: dt.datetime | None,
        size: int,
        page_token: str | None,
    ) -> Page[R]:
        """One page of ``stmt``'s rows, newest first (``created_at``, then ``id``, of ``columns``);
        ``since`` inclusive, ``until`` exclusive on created_at; the token continues after the last row."""
        if since is not None:
            stmt = stmt.where(columns.created_at >= aware("since", since))
        if until is not None:
            stmt = stmt.where(columns.created_at < aware("until", until))
        if page_token:
            at, last = decode_token(page_token)
            stmt = stmt.where(or_(columns.created_at < at, and_(columns.created_at == at, columns.id < last)))
        rows = (
            await self.session.execute(
                stmt.order_by(columns.created_at.desc(), columns.id.desc()).limit(size + 1)
            )
        ).all()
        items = [record(r) for r in rows[:size]]
        token = None
        if (
            len(rows) > size
            and (last_at := items[-1].created_at) is not None
            and (last_id := items[-1].id) is not None
        ):
            token = encode_token(last_at, last_id)
        return Page(items, token)


def score(field: str, value: float | None, low: float = 0.0, high: float = 1.0) -> Decimal | None:
    """Validate a DECIMAL(p,2) value within [low, high]; rounds to two decimals."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal) or not math.isfinite(value):
        raise ValidationError(field, f"must be a number within {low:.2f}–{high:.2f}")
    rounded = Decimal(str(round(float(value), 2)))
    if not Decimal(str(low)) <= rounded <= Decimal(str(high)):
        raise ValidationError(field, f"must be within {low:.2f}–{high:.2f}")
    return rounded


def as_float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def aware(field: str, value: dt.datetime) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ValidationError(field, "must be a timezone-aware datetime")
    return value


def page_size(value: int, maximum: int = 500) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ValidationError("page_size", f"must be within 1–{maximum}")
    return value


def encode_token(at: dt.datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii")


def decode_token(token: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        at, row_id = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        parsed = dt.datetime.fromisoformat(at)
        if parsed.tzinfo is None:
            raise ValueError("naive")
        return parsed, uuid.UUID(row_id)
    except (ValueError, TypeError, binascii.Error, UnicodeEncodeError) as exc:
        raise ValidationError("page_token", "is not a token returned by a previous page") from exc


def fields_of(row: Any, names: tuple[str, ...]) -> dict[str, Any]:
    mapping = row._mapping
    return {name: mapping[name] for name in names}
