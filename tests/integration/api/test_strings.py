"""Every string field of every RPC, for every role: a NUL or an over-long string → INVALID_ARGUMENT
naming that field (never INTERNAL, never a database error)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor

from engine.api.gen import callengine_pb2 as pb
from engine.api.status import field_violations
from engine.api.strings import MAX_STRING_CHARS
from engine.domain import Role
from tests.integration.api.conftest import Env

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(180)]

SERVICE = pb.DESCRIPTOR.services_by_name["CallEngine"]
BAD = {"nul": "ab\x00cd", "long": "x" * (MAX_STRING_CHARS + 1)}


def _cases() -> Iterator[tuple[str, str, str]]:
    """(rpc, field path, kind) for every string field and every JSON field of every request."""
    for method in SERVICE.methods:
        for field in method.input_type.fields:
            if field.type == FieldDescriptor.TYPE_STRING:
                name = f"{field.name}[0]" if _repeated(field) else field.name
                for kind in BAD:
                    yield method.name, name, kind
            elif field.message_type is not None and field.message_type.full_name == "google.protobuf.Value":
                for kind in BAD:
                    yield method.name, f"{field.name}.note", kind


def _request(rpc: str, path: str, kind: str) -> Any:
    method = SERVICE.methods_by_name[rpc]
    request = pb.DESCRIPTOR.pool.FindMessageTypeByName(method.input_type.full_name)._concrete_class()
    name, _, key = path.partition(".")
    if key:
        json_format.ParseDict({key: BAD[kind]}, getattr(request, name))
    elif name.endswith("[0]"):
        getattr(request, name[:-3]).append(BAD[kind])
    else:
        setattr(request, name, BAD[kind])
    return request


def _repeated(field: FieldDescriptor) -> bool:
    flag = getattr(field, "is_repeated", None)
    return bool(flag) if flag is not None else field.label == FieldDescriptor.LABEL_REPEATED


async def _call(env: Env, rpc: str, request: Any, metadata: Any) -> grpc.aio.AioRpcError | None:
    stub = getattr(env.stub, rpc)
    try:
        if SERVICE.methods_by_name[rpc].server_streaming:
            async for _ in stub(request, metadata=metadata):
                pass
        else:
            await stub(request, metadata=metadata)
    except grpc.aio.AioRpcError as exc:
        return exc
    return None


@pytest.mark.parametrize("role", [Role.ADMIN, Role.STORE_OWNER, Role.SERVICE])
async def test_every_string_field_rejects_nul_and_overlong(env: Env, role: Role) -> None:
    cases = list(_cases())
    assert len({rpc for rpc, _, _ in cases}) == len(SERVICE.methods)  # every RPC has a string field
    metadata = env.token(role, uuid.uuid4())
    failures = []
    for rpc, path, kind in cases:
        error = await _call(env, rpc, _request(rpc, path, kind), metadata)
        fields = [f for f, _ in field_violations(error.trailing_metadata())] if error else []
        if error is None or error.code() is not grpc.StatusCode.INVALID_ARGUMENT or path not in fields:
            failures.append((rpc, path, kind, error.code() if error else "OK", fields))
    assert failures == []
