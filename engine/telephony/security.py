"""Who may talk to a host: Twilio's request signatures (per-attempt tokens: :mod:`.attempt_token`).

- Status callbacks arrive as POSTs with a form body (``StatusCallbackMethod=POST``),
  so To/From never sit in a URL. ``X-Twilio-Signature`` is base64 HMAC-SHA1, keyed
  by the account's auth token, over the full callback URL (our ``?t=`` token
  included) followed by every POST parameter, sorted by name, as ``name + value``.
- The Media Streams upgrade carries the same header computed over the ``wss://``
  URL written in the TwiML, with no parameters.
- A host refuses to start with an empty or malformed auth token: a forgeable
  signature would let anyone drive its calls.
"""

from __future__ import annotations

import re

from twilio.request_validator import RequestValidator

from engine.errors import ConfigError

_AUTH_TOKEN_RE = re.compile(r"^[A-Za-z0-9_\-]{32,128}$")
"""Twilio's auth tokens are 32 hex characters; the emulators use 32+ URL-safe characters."""


def check_auth_token(auth_token: str) -> str:
    """The token, or ConfigError when it is empty or not shaped like one (never echoes it)."""
    if not auth_token:
        raise ConfigError("TWILIO_AUTH_TOKEN is empty: callback signatures could not be checked")
    if not _AUTH_TOKEN_RE.fullmatch(auth_token):
        raise ConfigError(
            "TWILIO_AUTH_TOKEN is malformed: expected at least 32 letters/digits (Twilio's are 32 hex)"
        )
    return auth_token


class SignatureChecker:
    """Validates ``X-Twilio-Signature`` headers with the account's auth token."""

    def __init__(self, auth_token: str) -> None:
        self._validator = RequestValidator(check_auth_token(auth_token))

    def valid(self, url: str, signature: str | None, params: dict[str, str] | None = None) -> bool:
        if not signature:
            return False
        return bool(self._validator.validate(url, params or {}, signature))

    def sign(self, url: str, params: dict[str, str] | None = None) -> str:
        """What Twilio would send for ``url`` (tests and the benchmark use it)."""
        return str(self._validator.compute_signature(url, params or {}))
