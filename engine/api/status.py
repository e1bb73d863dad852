"""The one seam where engine errors become gRPC status codes.

Every handler's exceptions pass through :func:`to_rpc_status`. Client
mistakes map to specific codes (INVALID_ARGUMENT with ``google.rpc.BadRequest``
field violations, NOT_FOUND, PERMISSION_DENIED, UNAUTHENTICATED ...); only a
bug or a server-side fault becomes INTERNAL, and its text is not sent to the
client (it is logged with the method name, never with request contents).
"""

from __future__ import annotations

import asyncio
import dataclasses

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from engine.errors import (
    AuthenticationError,
    CallEngineError,
    ConfigError,
    ConflictError,
    CryptoError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnavailableError,
    ValidationError,
)

STATUS_DETAILS_KEY = "grpc-status-details-bin"


class FieldViolations(ValidationError):
    """Several invalid fields at once; ``violations`` is ``[(field, description), ...]``."""

    def __init__(self, violations: list[tuple[str, str]]) -> None:
        if not violations:
            raise ValueError("FieldViolations needs at least one violation")
        field, description = violations[0]
        super().__init__(field, description)
        self.violations = list(violations)

    def __str__(self) -> str:
        return "; ".join(f"{f}: {d}" for f, d in self.violations)


@dataclasses.dataclass(frozen=True)
class RpcStatus:
    """What the client receives: a code, a message and optional trailing metadata."""

    code: grpc.StatusCode
    message: str
    trailing_metadata: tuple[tuple[str, str | bytes], ...] = ()


# Order matters only for subclasses; these are siblings.
_CODES: tuple[tuple[type[CallEngineError], grpc.StatusCode], ...] = (
    (ValidationError, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFoundError, grpc.StatusCode.NOT_FOUND),
    (PermissionDeniedError, grpc.StatusCode.PERMISSION_DENIED),
    (AuthenticationError, grpc.StatusCode.UNAUTHENTICATED),
    (ConflictError, grpc.StatusCode.ABORTED),
    (ResourceExhaustedError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (UnavailableError, grpc.StatusCode.UNAVAILABLE),
)


def code_for(exc: BaseException) -> grpc.StatusCode:
    """The status code for an exception (without building details)."""
    for cls, code in _CODES:
        if isinstance(exc, cls):
            return code
    if isinstance(exc, TimeoutError):
        return grpc.StatusCode.DEADLINE_EXCEEDED
    if isinstance(exc, (ConfigError, CryptoError)):
        return grpc.StatusCode.INTERNAL
    if isinstance(exc, CallEngineError) and exc.retryable:
        return grpc.StatusCode.UNAVAILABLE
    return grpc.StatusCode.INTERNAL


def to_rpc_status(exc: BaseException) -> RpcStatus:
    """Map ``exc`` to what the client should see."""
    if isinstance(exc, asyncio.CancelledError):  # pragma: no cover - callers re-raise these
        raise exc
    code = code_for(exc)
    if code is grpc.StatusCode.INVALID_ARGUMENT and isinstance(exc, ValidationError):
        return _bad_request(exc)
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return RpcStatus(code, "deadline exceeded")
    if code is grpc.StatusCode.INTERNAL:
        return RpcStatus(code, "internal error")
    if isinstance(exc, ResourceExhaustedError) and exc.retry_after_seconds is not None:
        return _retry_info(exc, exc.retry_after_seconds)
    return RpcStatus(code, str(exc))


def _retry_info(exc: ResourceExhaustedError, seconds: float) -> RpcStatus:
    """RESOURCE_EXHAUSTED with a ``google.rpc.RetryInfo`` saying when a retry can succeed."""
    delay = duration_pb2.Duration()
    delay.FromNanoseconds(max(0, int(seconds * 1e9)))
    packed = any_pb2.Any()
    packed.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    status = status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message=str(exc), details=[packed])
    return RpcStatus(
        grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc), ((STATUS_DETAILS_KEY, status.SerializeToString()),)
    )


def retry_delay(trailing_metadata: object) -> float | None:
    """Client side helper: the RetryInfo delay (seconds) in an error's trailing metadata."""
    for key, value in trailing_metadata or ():  # type: ignore[attr-defined]
        if key != STATUS_DETAILS_KEY:
            continue
        for detail in status_pb2.Status.FromString(value).details:
            if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                info = error_details_pb2.RetryInfo()
                detail.Unpack(info)
                return float(info.retry_delay.ToNanoseconds()) / 1e9
    return None


def _bad_request(exc: ValidationError) -> RpcStatus:
    violations = exc.violations if isinstance(exc, FieldViolations) else [(exc.field, exc.description)]
    detail = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=f, description=d) for f, d in violations
        ]
    )
    packed = any_pb2.Any()
    packed.Pack(detail)
    message = "; ".join(f"{f}: {d}" for f, d in violations)
    status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=message, details=[packed])
    return RpcStatus(
        grpc.StatusCode.INVALID_ARGUMENT,
        message,
        ((STATUS_DETAILS_KEY, status.SerializeToString()),),
    )


def field_violations(trailing_metadata: object) -> list[tuple[str, str]]:
    """Client side helper: the BadRequest field violations in an error's trailing metadata."""
    out: list[tuple[str, str]] = []
    for key, value in trailing_metadata or ():  # type: ignore[attr-defined]
        if key != STATUS_DETAILS_KEY:
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                out.extend((v.field, v.description) for v in bad.field_violations)
    return out
