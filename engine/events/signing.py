"""The Standard Webhooks signature scheme, by hand (three headers and one HMAC).

A delivery carries

- ``webhook-id``: the event id — the same on every retry, the receiver's idempotency key;
- ``webhook-timestamp``: Unix seconds of *this* attempt (receivers refuse old ones,
  so it is the real time even when the engine's wall clock is shifted);
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>``,
  one space-separated entry per signing key (during a rotation both verify).

Receivers verify with any Standard Webhooks library (``standardwebhooks``, the openai
SDK's ``webhooks.unwrap``/``verify_signature``; the tests use both) or :func:`verify`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence

TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """A delivery whose headers or signature do not verify."""


def _mac(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def sign(msg_id: str, timestamp: int, body: bytes, keys: Sequence[bytes]) -> dict[str, str]:
    """The three headers of one delivery attempt."""
    if not keys:
        raise ValueError("at least one signing key is needed")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(f"v1,{_mac(k, msg_id, timestamp, body)}" for k in keys),
    }


def verify(
    body: bytes,
    headers: Mapping[str, str],
    key: bytes,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> str:
    """Check a delivery (headers case-insensitive); returns its ``webhook-id``."""
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp, sigs = (lower.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not (msg_id and stamp and sigs):
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError as exc:
        raise SignatureError("webhook-timestamp is not Unix seconds") from exc
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError("webhook-timestamp outside the tolerance")
    expected = _mac(key, msg_id, timestamp, body)
    for entry in sigs.split():
        version, _, value = entry.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return msg_id
    raise SignatureError("no matching signature")
