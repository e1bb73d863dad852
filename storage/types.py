"""Column types: encrypted text bound to its row, and UTC timestamps.

``EncryptedText`` stores :mod:`storage.crypto` envelopes in a TEXT column. The
key ring comes from the engine's dialect (``attach_keyring``), so two
``Database`` objects in one process can use different keys. Writes pass
``ForRow(row_id, plaintext)`` so the associated data names the row; reads get
the row id back through ``column_expression`` (``id::text || '|' || column``),
so callers only ever see plaintext.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import DateTime, Text, literal, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

from engine.errors import CryptoError, ValidationError
from storage.crypto import KeyRing, aad

_KEYRING_ATTR = "callengine_keyring"
_ROW_SEP = "|"
ERASED = ""
"""Stored in place of a ciphertext when the value was erased/anonymized (NOT NULL columns)."""


def attach_keyring(dialect: Dialect, keyring: KeyRing) -> None:
    setattr(dialect, _KEYRING_ATTR, keyring)


def keyring_of(dialect: Dialect) -> KeyRing:
    keyring = getattr(dialect, _KEYRING_ATTR, None)
    if keyring is None:
        raise CryptoError("no key ring attached to this database engine")
    assert isinstance(keyring, KeyRing)
    return keyring


class ForRow:
    """A plaintext about to be encrypted for one row (its primary key)."""

    __slots__ = ("row_id", "text")

    def __init__(self, row_id: uuid.UUID, text: str) -> None:
        self.row_id = row_id
        self.text = text

    def __repr__(self) -> str:  # never show the plaintext
        return f"ForRow({self.row_id}, <redacted>)"


class EncryptedText(TypeDecorator[str]):
    """AES-256-GCM ciphertext in a TEXT column, bound to ``table.column:row id``.

    ``row_column`` names the column holding that row id when it is not ``id``: a
    call session's number is its verification's ciphertext, copied verbatim by the
    database (``dispatch_session``), so it is bound to
    ``customer_verifications.phone_number:<customer_verification_id>``.
    """

    impl = Text
    cache_ok = True

    def __init__(self, table: str, column: str, row_column: str = "id") -> None:
        super().__init__()
        self.table = table
        self.column = column
        self.row_column = row_column

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, ForRow):
            raise TypeError(
                f"{self.table}.{self.column}: pass ForRow(row_id, text), not {type(value).__name__}"
            )
        return keyring_of(dialect).encrypt(value.text, aad(self.table, self.column, value.row_id))

    def column_expression(self, colexpr: ColumnElement[Any]) -> ColumnElement[Any]:
        table = getattr(colexpr, "table", None)
        if table is None or self.row_column not in table.c:
            raise TypeError(f"{self.table}.{self.column}: select the column from its table")
        joined = table.c[self.row_column].cast(Text).concat(literal(_ROW_SEP)).concat(colexpr.cast(Text))
        return type_coerce(joined, self)  # keeps this type, so process_result_value decrypts

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        row_id, sep, stored = str(value).partition(_ROW_SEP)
        if not sep:
            raise CryptoError(f"{self.table}.{self.column}: value read without its row id")
        if stored == ERASED:
            return ERASED
        return keyring_of(dialect).decrypt(stored, aad(self.table, self.column, uuid.UUID(row_id)))


class UtcDateTime(TypeDecorator[dt.datetime]):
    """The seed's TIMESTAMP (without time zone), always holding UTC.

    Binds only timezone-aware datetimes (converted to UTC); returns aware UTC
    datetimes, so nobody has to remember which clock a column uses.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise ValidationError("timestamp", "must be a timezone-aware datetime")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC)
