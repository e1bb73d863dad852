"""The error → gRPC status seam."""

from __future__ import annotations

import grpc
import pytest

from engine.api.status import FieldViolations, field_violations, to_rpc_status
from engine.errors import (
    AuthenticationError,
    ConfigError,
    ConflictError,
    CryptoError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    StorageError,
    UnavailableError,
    ValidationError,
)


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (ValidationError("store_id", "bad"), grpc.StatusCode.INVALID_ARGUMENT),
        (NotFoundError("no session"), grpc.StatusCode.NOT_FOUND),
        (PermissionDeniedError("no"), grpc.StatusCode.PERMISSION_DENIED),
        (AuthenticationError("no"), grpc.StatusCode.UNAUTHENTICATED),
        (ConflictError("version"), grpc.StatusCode.ABORTED),
        (ResourceExhaustedError("busy"), grpc.StatusCode.RESOURCE_EXHAUSTED),
        (UnavailableError("db down"), grpc.StatusCode.UNAVAILABLE),
        (StorageError("x", retryable=True), grpc.StatusCode.UNAVAILABLE),
        (StorageError("x"), grpc.StatusCode.INTERNAL),
        (ConfigError("x"), grpc.StatusCode.INTERNAL),
        (CryptoError("x"), grpc.StatusCode.INTERNAL),
        (TimeoutError(), grpc.StatusCode.DEADLINE_EXCEEDED),
        (RuntimeError("boom"), grpc.StatusCode.INTERNAL),
    ],
)
def test_codes(exc: Exception, code: grpc.StatusCode) -> None:
    assert to_rpc_status(exc).code is code


def test_internal_hides_text() -> None:
    status = to_rpc_status(RuntimeError("secret detail +46701234567"))
    assert status.message == "internal error"


def test_bad_request_details_name_every_field() -> None:
    status = to_rpc_status(FieldViolations([("store_id", "required"), ("phone_number", "not E.164")]))
    assert status.code is grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(status.trailing_metadata) == [
        ("store_id", "required"),
        ("phone_number", "not E.164"),
    ]
    single = to_rpc_status(ValidationError("departments[2].name", "required"))
    assert field_violations(single.trailing_metadata) == [("departments[2].name", "required")]
