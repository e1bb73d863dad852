"""One root error for the engine; subclasses say whether a retry makes sense.

Lower-level errors (SDKs, drivers, Ray) are translated at the edge with
``raise X from exc`` so callers only ever handle these types. The gRPC front
door maps them to status codes (see ``engine/api``).
"""

from __future__ import annotations


class CallEngineError(Exception):
    """Root of every error the engine raises on purpose."""

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


class ConfigError(CallEngineError):
    """Settings are missing or invalid. Fix the configuration; retrying won't help."""


class ValidationError(CallEngineError):
    """Input from outside is invalid. ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.description = message


class NotFoundError(CallEngineError):
    """A referenced record does not exist (or is not visible to the principal)."""


class PermissionDeniedError(CallEngineError):
    """The principal may not see or change this record."""


class AuthenticationError(CallEngineError):
    """No, or an invalid, credential."""


class ConflictError(CallEngineError):
    """The operation conflicts with the current state (e.g. illegal transition, duplicate)."""


class ResourceExhaustedError(CallEngineError):
    """Capacity or rate limit reached; retry later (after ``retry_after_seconds`` when known)."""

    retryable = True

    def __init__(
        self, message: str, *, retryable: bool | None = None, retry_after_seconds: float | None = None
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.retry_after_seconds = retry_after_seconds


class UnavailableError(CallEngineError):
    """A dependency (database, Ray, Twilio, OpenAI) is temporarily unreachable."""

    retryable = True


class CryptoError(CallEngineError):
    """Decryption failed: wrong key, unknown key id, or a ciphertext moved between places."""


class StorageError(CallEngineError):
    """A database operation failed for a reason that is not the caller's input."""
