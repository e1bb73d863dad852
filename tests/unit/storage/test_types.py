"""Column types without a database: encryption bound to the row, UTC timestamps."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from engine.errors import CryptoError, ValidationError
from storage.crypto import KeyRing
from storage.models import ConversationTranscript
from storage.models.base import table_of
from storage.types import ERASED, EncryptedText, ForRow, UtcDateTime, attach_keyring


@pytest.fixture
def dialect() -> postgresql.dialect:
    d = postgresql.dialect()
    attach_keyring(d, KeyRing.parse("k:" + base64.b64encode(b"k" * 32).decode()))
    return d


def test_encrypted_text_roundtrip_needs_the_row(dialect: postgresql.dialect) -> None:
    column = EncryptedText("conversation_transcripts", "content")
    row = uuid.uuid4()
    stored = column.process_bind_param(ForRow(row, "Hej hej"), dialect)
    assert stored is not None and "Hej" not in stored
    assert column.process_result_value(f"{row}|{stored}", dialect) == "Hej hej"
    with pytest.raises(CryptoError):
        column.process_result_value(f"{uuid.uuid4()}|{stored}", dialect)
    with pytest.raises(CryptoError):
        column.process_result_value(stored, dialect)  # read without its row id
    assert column.process_result_value(f"{row}|{ERASED}", dialect) == ERASED
    with pytest.raises(TypeError):
        column.process_bind_param("plain text", dialect)  # callers must name the row
    assert "Hej" not in repr(ForRow(row, "Hej hej"))


def test_reads_select_the_row_id_with_the_ciphertext() -> None:
    t = table_of(ConversationTranscript)
    sql = str(select(t.c.content).compile(dialect=postgresql.dialect()))
    assert "CAST(conversation_transcripts.id AS TEXT)" in sql


def test_utc_datetime(dialect: postgresql.dialect) -> None:
    column = UtcDateTime()
    stockholm = dt.timezone(dt.timedelta(hours=1))
    bound = column.process_bind_param(dt.datetime(2026, 1, 1, 13, 0, tzinfo=stockholm), dialect)
    assert bound == dt.datetime(2026, 1, 1, 12, 0)
    assert column.process_result_value(bound, dialect) == dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    with pytest.raises(ValidationError):
        column.process_bind_param(dt.datetime(2026, 1, 1, 12, 0), dialect)
