"""One check for every string in every request: no NUL characters, bounded length.

PostgreSQL refuses NUL in TEXT and JSONB, and unbounded strings cost memory and
disk. The gate runs :func:`string_violations` on each request after
authentication and before the handler, so every RPC answers INVALID_ARGUMENT
naming the field (``google.rpc.BadRequest``): plain string fields, repeated and
map fields, and every key and string inside JSON values (``google.protobuf.Value``),
with a path such as ``departments[2].name``.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import message as pb_message
from google.protobuf.descriptor import FieldDescriptor

MAX_STRING_CHARS = 4096
"""Longest single string anywhere in a request (ids and numbers have tighter rules of their own)."""
_JSON_TYPES = frozenset({"google.protobuf.Value", "google.protobuf.Struct", "google.protobuf.ListValue"})
_STRING = FieldDescriptor.TYPE_STRING
_MESSAGE = FieldDescriptor.TYPE_MESSAGE


def _repeated(field: FieldDescriptor) -> bool:
    flag = getattr(field, "is_repeated", None)  # newer protobuf; ``label`` before it
    return bool(flag) if flag is not None else field.label == FieldDescriptor.LABEL_REPEATED


def _check(path: str, value: str, out: list[tuple[str, str]]) -> None:
    if "\x00" in value:
        out.append((path, "must not contain NUL characters"))
    elif len(value) > MAX_STRING_CHARS:
        out.append((path, f"must be at most {MAX_STRING_CHARS} characters"))


def _json(path: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, str):
        _check(path, value, out)
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if "\x00" not in key and len(key) <= 64 else f"{path}.<key>"
            _check(child, key, out)
            _json(child, item, out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _json(f"{path}[{i}]", item, out)


def _json_value(msg: pb_message.Message) -> Any:
    from google.protobuf import json_format

    return json_format.MessageToDict(msg)


def string_violations(msg: pb_message.Message, prefix: str = "") -> list[tuple[str, str]]:
    """Every string in ``msg`` with a NUL or over the length bound, as (field path, description)."""
    out: list[tuple[str, str]] = []
    for field, value in msg.ListFields():
        path = prefix + field.name
        if field.type == _STRING:
            if _repeated(field):
                for i, item in enumerate(value):
                    _check(f"{path}[{i}]", item, out)
            else:
                _check(path, value, out)
        elif field.type == _MESSAGE:
            if field.message_type.full_name in _JSON_TYPES:
                _json(path, _json_value(value), out)
            elif field.message_type.GetOptions().map_entry:
                for key, item in value.items():
                    if isinstance(key, str):
                        _check(f"{path}.<key>", key, out)
                    if isinstance(item, str):
                        _check(f"{path}[{key!r}]", item, out)
                    elif isinstance(item, pb_message.Message):
                        out += string_violations(item, f"{path}[{key!r}].")
            elif _repeated(field):
                for i, item in enumerate(value):
                    out += string_violations(item, f"{path}[{i}].")
            else:
                out += string_violations(value, path + ".")
    return out
