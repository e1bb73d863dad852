"""Per-attempt call tokens: who may speak for one dial attempt of one session.

A token names a session, the attempt (1 for the first dial, 2.. for retries) and an
expiry, and carries an HMAC-SHA256 over them::

    v1.<session_id>.<attempt>.<expiry unix seconds>.<base64url mac>

It contains no personal data, so it may travel in URLs, TwiML ``<Parameter>``
values and SIP ``X-`` headers (the same string everywhere). Uses:

- the Media Streams TwiML carries it as the ``token`` custom parameter;
- the status-callback URL carries it as ``?t=…`` (Twilio signs the whole URL);
- the SIP path carries it in an ``X-Callengine-Token`` header (:data:`SIP_HEADER`).

The key is derived from the Twilio auth token (every node has it, so any node can
check a token another node issued, e.g. a SIP webhook), with a purpose label so the
derived key is useless for anything else. :meth:`AttemptTokens.check` says *why* a
token is refused, so callers can count replays from another attempt separately.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
import time

VERSION = "v1"
SIP_HEADER = "X-Callengine-Token"
DEFAULT_TTL_SECONDS = 3 * 3600.0
"""Long enough for ringing, the longest call and late callbacks; short enough to age out."""
_PURPOSE = b"callengine-attempt-token-v1"
MAX_TOKEN_CHARS = 160
_SESSION_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_MAC_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")


class Verdict(enum.Enum):
    OK = "ok"
    MALFORMED = "malformed"
    FORGED = "forged"
    EXPIRED = "expired"
    OTHER_SESSION = "other_session"
    OTHER_ATTEMPT = "other_attempt"
    """A genuine token of another attempt of this session: a replay."""


class AttemptTokens:
    """Issues and checks per-attempt tokens with a key derived from ``secret``."""

    def __init__(self, secret: str, *, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        if not secret:
            raise ValueError("attempt tokens need a non-empty secret")
        self._key = hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()
        self._ttl = ttl_seconds

    def _mac(self, session_id: str, attempt: int, expiry: int) -> str:
        message = f"{VERSION}.{session_id}.{attempt}.{expiry}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def issue(self, session_id: str, attempt: int, *, now: float | None = None) -> str:
        if attempt < 1:
            raise ValueError("attempt counts from 1")
        if not _SESSION_RE.fullmatch(session_id):
            raise ValueError("session ids in tokens are 1-64 letters, digits or '-'")
        expiry = int((time.time() if now is None else now) + self._ttl)
        return f"{VERSION}.{session_id}.{attempt}.{expiry}.{self._mac(session_id, attempt, expiry)}"

    def check(self, token: str | None, session_id: str, attempt: int, *, now: float | None = None) -> Verdict:
        """Whether ``token`` speaks for ``attempt`` of ``session_id`` (and if not, why)."""
        parsed = parse(token)
        if parsed is None:
            return Verdict.MALFORMED
        tok_session, tok_attempt, expiry, mac = parsed
        if not hmac.compare_digest(mac, self._mac(tok_session, tok_attempt, expiry)):
            return Verdict.FORGED
        if tok_session != session_id:
            return Verdict.OTHER_SESSION
        if tok_attempt != attempt:
            return Verdict.OTHER_ATTEMPT
        if expiry < (time.time() if now is None else now):
            return Verdict.EXPIRED
        return Verdict.OK

    def verify(self, token: str | None, session_id: str, attempt: int, *, now: float | None = None) -> bool:
        return self.check(token, session_id, attempt, now=now) is Verdict.OK


def parse(token: str | None) -> tuple[str, int, int, str] | None:
    """``(session_id, attempt, expiry, mac)`` of a well-formed token, else None (no MAC check)."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    parts = token.split(".")
    if len(parts) != 5 or parts[0] != VERSION:
        return None
    _, session_id, attempt_s, expiry_s, mac = parts
    if not attempt_s.isdigit() or not expiry_s.isdigit() or len(attempt_s) > 3 or len(expiry_s) > 12:
        return None
    if not _SESSION_RE.fullmatch(session_id) or not _MAC_RE.fullmatch(mac):
        return None
    return session_id, int(attempt_s), int(expiry_s), mac
