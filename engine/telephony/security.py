"""Who may talk to a host: Twilio's request signatures and our per-call stream tokens.

- Status callbacks arrive as GETs; ``X-Twilio-Signature`` is HMAC-SHA1 (auth
  token as key) over the full URL with its query and no body params.
  The stream upgrade carries the same header computed over
  the ``wss://`` URL written in the TwiML with empty params.
- The TwiML ``<Stream>`` carries a ``token`` parameter: HMAC-SHA256 over the
  session id and an expiry, keyed by a secret derived from the auth token. It
  arrives in ``start.customParameters``; a stream whose token does not verify
  for the session named in its URL is closed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from twilio.request_validator import RequestValidator


class SignatureChecker:
    """Validates ``X-Twilio-Signature`` headers with the account's auth token."""

    def __init__(self, auth_token: str) -> None:
        self._validator = RequestValidator(auth_token)

    def valid(self, url: str, signature: str | None, params: dict[str, str] | None = None) -> bool:
        if not signature:
            return False
        return bool(self._validator.validate(url, params or {}, signature))

    def sign(self, url: str, params: dict[str, str] | None = None) -> str:
        """What Twilio would send for ``url`` (tests and the benchmark use it)."""
        return str(self._validator.compute_signature(url, params or {}))


class StreamTokens:
    """Per-call stream tokens: ``<expiry>.<base64url HMAC-SHA256(session_id.expiry)>``."""

    def __init__(self, secret: str, *, ttl_seconds: float = 3600.0) -> None:
        self._key = hmac.new(secret.encode(), b"callengine-stream-token-v1", hashlib.sha256).digest()
        self._ttl = ttl_seconds

    def _mac(self, session_id: str, expiry: int) -> str:
        digest = hmac.new(self._key, f"{session_id}.{expiry}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def issue(self, session_id: str, *, now: float | None = None) -> str:
        expiry = int((time.time() if now is None else now) + self._ttl)
        return f"{expiry}.{self._mac(session_id, expiry)}"

    def verify(self, session_id: str, token: str | None, *, now: float | None = None) -> bool:
        if not token or "." not in token:
            return False
        expiry_s, _, mac = token.partition(".")
        if not expiry_s.isdigit():
            return False
        expiry = int(expiry_s)
        if expiry < (time.time() if now is None else now):
            return False
        return hmac.compare_digest(mac, self._mac(session_id, expiry))
