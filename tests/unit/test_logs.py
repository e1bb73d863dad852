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


def test_json_lines_carry_context_and_mask_tracebacks() -> None:
    import io
    import json
    import logging

    from engine.logs import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.private.json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError("cannot dial +46701234567")
        except ValueError:
            logger.exception("failed", extra={"session_id": "s-1", "store_id": "st-2"})
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue().strip()
    assert "46701234567" not in line
    record = json.loads(line)
    assert (record["session_id"], record["store_id"], record["msg"]) == ("s-1", "st-2", "failed")
    assert "ValueError: cannot dial <redacted>" in record["exc"]
