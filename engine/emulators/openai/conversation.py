"""The conversation: its items in order, and the client events that edit them."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

from engine.emulators.openai.events import Event, Ids
from engine.emulators.openai.log import ItemLog, SessionLog, TruncationLog
from engine.emulators.openai.protocol import ClientEventError


@dataclasses.dataclass
class ConvItem:
    id: str
    role: str
    text: str | None
    item: dict[str, Any]
    keys: tuple[str, ...] = ()
    audio_ms: int = 0
    output_audio: bool = False
    pending: bool = False
    """A committed customer turn still being transcribed."""


class Conversation:
    def __init__(self, *, ids: Ids, emit: Callable[[Event], None], log: SessionLog) -> None:
        self.items: list[ConvItem] = []
        self._ids = ids
        self._emit = emit
        self.log = log

    @property
    def last_id(self) -> str | None:
        return self.items[-1].id if self.items else None

    def find(self, item_id: str) -> ConvItem | None:
        return next((item for item in self.items if item.id == item_id), None)

    def create(self, event: dict[str, Any]) -> None:
        item = copy.deepcopy(event["item"])
        previous = event.get("previous_item_id")
        position = len(self.items)
        if previous is not None:
            position = 0 if previous == "root" else self.index_of(previous, event, "previous_item_id") + 1
        item_id = item.get("id") or self._ids.new("item")
        if any(existing.id == item_id for existing in self.items):
            raise ClientEventError(
                "invalid_value",
                f"Item with id '{item_id}' already exists.",
                "item.id",
                event.get("event_id"),
                event["type"],
            )
        if item.get("type") == "function_call_output":
            calls = {i.item.get("call_id") for i in self.items if i.role == "function_call"}
            if item.get("call_id") not in calls:
                raise ClientEventError(
                    "invalid_value",
                    f"No function call with call_id '{str(item.get('call_id'))[:64]}' in the conversation.",
                    "item.call_id",
                    event.get("event_id"),
                    event["type"],
                )
            self.log.tool_outputs.append((str(item["call_id"]), str(item.get("output", ""))))
        item["id"] = item_id
        item.setdefault("object", "realtime.item")
        item.setdefault("status", "completed")
        role = item.get("role") or item.get("type", "message")
        text = _item_text(item)
        self.items.insert(position, ConvItem(item_id, role, text, item))
        self.log.items.append(ItemLog(item_id, role, "client", text))
        prev_id = self.items[position - 1].id if position > 0 else None
        self._emit(
            {
                "type": "conversation.item.added",
                "event_id": self._ids.new("event"),
                "previous_item_id": prev_id,
                "item": item,
            }
        )
        self._emit(
            {
                "type": "conversation.item.done",
                "event_id": self._ids.new("event"),
                "previous_item_id": prev_id,
                "item": item,
            }
        )

    def index_of(self, item_id: str, event: dict[str, Any], param: str) -> int:
        for index, existing in enumerate(self.items):
            if existing.id == item_id:
                return index
        raise ClientEventError(
            "invalid_value",
            f"Item with item_id '{item_id}' not found.",
            param,
            event.get("event_id"),
            event["type"],
        )

    def truncate(self, event: dict[str, Any], streaming: tuple[str, int] | None) -> None:
        """``streaming``: (item id, audio ms sent so far) of the response being streamed, if any."""
        event_id = event.get("event_id")
        target = self.find(event["item_id"])
        if target is None:
            raise ClientEventError(
                "item_truncate_invalid_item_id",
                f"Error truncating item: the item with id '{event['item_id']}' does not exist.",
                "item_id",
                event_id,
                event["type"],
            )
        available = target.audio_ms
        if streaming is not None and streaming[0] == target.id:
            available = streaming[1]
        if not target.output_audio or available == 0:
            raise ClientEventError(
                "unsupported_content_type",
                "Only model output audio messages can be truncated.",
                "item_id",
                event_id,
                event["type"],
            )
        if event["content_index"] != 0:
            raise ClientEventError(
                "invalid_value",
                f"Invalid content_index {event['content_index']}: the item has one content part.",
                "content_index",
                event_id,
                event["type"],
            )
        end_ms = event["audio_end_ms"]
        if end_ms < 0 or end_ms > available:
            raise ClientEventError(
                "invalid_value",
                f"Audio content of {available}ms is already shorter than {end_ms}ms",
                "audio_end_ms",
                event_id,
                event["type"],
            )
        full = target.text or ""
        kept = full[: len(full) * end_ms // available]
        target.text = kept
        target.audio_ms = end_ms
        for part in target.item.get("content", []):
            if part.get("type") == "output_audio":
                part["transcript"] = kept
        self.log.truncations.append(TruncationLog(target.id, 0, end_ms, kept))
        self._emit(
            {
                "type": "conversation.item.truncated",
                "event_id": self._ids.new("event"),
                "item_id": target.id,
                "content_index": 0,
                "audio_end_ms": end_ms,
            }
        )

    def delete(self, event: dict[str, Any]) -> None:
        index = self.index_of(event["item_id"], event, "item_id")
        removed = self.items.pop(index)
        self._emit(
            {"type": "conversation.item.deleted", "event_id": self._ids.new("event"), "item_id": removed.id}
        )

    def retrieve(self, event: dict[str, Any]) -> None:
        index = self.index_of(event["item_id"], event, "item_id")
        self._emit(
            {
                "type": "conversation.item.retrieved",
                "event_id": self._ids.new("event"),
                "item": self.items[index].item,
            }
        )


def _item_text(item: dict[str, Any]) -> str | None:
    texts = []
    for part in item.get("content") or []:
        if isinstance(part, dict):
            value = part.get("text") or part.get("transcript")
            if isinstance(value, str):
                texts.append(value)
    if item.get("type") == "function_call_output":
        return None
    return " ".join(texts) if texts else None
