from __future__ import annotations

import logging

import pytest

from engine.logs import PersonalDataFilter


@pytest.mark.parametrize(
    ("message", "leaks"),
    [
        ("dialling +46701740605", "+46701740605"),
        ("customer 070-123 45 67 answered", "070-123 45 67"),
        ("number 08-123 456 78", "08-123 456 78"),
    ],
)
def test_phone_numbers_are_masked(message: str, leaks: str) -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, message, None, None)
    PersonalDataFilter().filter(record)
    assert leaks not in record.getMessage()
    assert "<redacted>" in record.getMessage()


@pytest.mark.parametrize(
    "message",
    [
        "session=b49c3fab-1234-5678-a0e4-50139fdbbae5 store=21127dfb-b4fa-5eb6-bedf-88550cb3fa3d",
        "week=2026-11-23 at 11:33:14",
        "frames=12345678",
    ],
)
def test_ids_dates_and_counts_survive(message: str) -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s", (message,), None)
    PersonalDataFilter().filter(record)
    assert record.getMessage() == message
