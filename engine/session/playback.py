"""What of the AI's audio the caller has actually heard: marks per chunk group + media timestamps.

Per response item the bridge sends a ``s<n>`` mark just before its first
audio (its echo times when the caller starts hearing it), a ``g<n>`` mark after
each chunk group of ``group_bytes`` (confirmed play position), and an ``e<n>``
mark after the last audio (the item was heard in full). After a ``clear``
Twilio echoes every pending mark at once, so those echoes are ignored.

At a barge-in the played offset is Twilio's inbound media clock since the
item's first audio went out, bounded below by the last confirmed mark and
above by what was sent.
"""

from __future__ import annotations

import enum
import itertools

import msgspec


class MarkKind(enum.StrEnum):
    START = "s"
    GROUP = "g"
    END = "e"


class MarkInfo(msgspec.Struct):
    kind: MarkKind
    item_id: str
    byte_offset: int
    sent_at: float


class Echo(msgspec.Struct, frozen=True):
    kind: MarkKind
    item_id: str
    rtt: float
    """Seconds from sending the mark to its echo."""


class Playback:
    def __init__(self, *, group_bytes: int = 8000) -> None:
        self._group = group_bytes
        self._ids = itertools.count(1)
        self._pending: dict[str, MarkInfo] = {}
        self.item_id: str | None = None
        self.sent_bytes = 0
        self._since_mark = 0
        self.confirmed_bytes = 0
        self._start_media_ms: int | None = None
        self.latest_media_ms = 0
        self.heard_in_full: set[str] = set()
        self.cut_items: set[str] = set()
        self._done_items: set[str] = set()

    def _mark(self, kind: MarkKind, now: float) -> str:
        assert self.item_id is not None
        name = f"{kind.value}{next(self._ids)}"
        self._pending[name] = MarkInfo(kind, self.item_id, self.sent_bytes, now)
        return name

    def on_media_timestamp(self, ms: int) -> None:
        if ms > self.latest_media_ms:
            self.latest_media_ms = ms

    def before_audio(self, item_id: str, now: float) -> str | None:
        """Call before sending a delta; returns a start mark to send first for a new item."""
        if item_id == self.item_id:
            return None
        self.item_id = item_id
        self.sent_bytes = 0
        self._since_mark = 0
        self.confirmed_bytes = 0
        self._start_media_ms = self.latest_media_ms
        return self._mark(MarkKind.START, now)

    def after_audio(self, n_bytes: int, now: float) -> str | None:
        """Account a sent delta; returns a group mark to send after it when a group is full."""
        self.sent_bytes += n_bytes
        self._since_mark += n_bytes
        if self._since_mark >= self._group:
            self._since_mark = 0
            return self._mark(MarkKind.GROUP, now)
        return None

    def audio_done(self, item_id: str, now: float) -> str | None:
        if item_id != self.item_id or item_id in self.cut_items:
            return None
        self._done_items.add(item_id)
        return self._mark(MarkKind.END, now)

    def on_echo(self, name: str, now: float) -> Echo | None:
        info = self._pending.pop(name, None)
        if info is None:
            return None  # cleared, unknown or duplicate
        if info.item_id == self.item_id and info.byte_offset > self.confirmed_bytes:
            self.confirmed_bytes = info.byte_offset
        if info.kind is MarkKind.END:
            self.heard_in_full.add(info.item_id)
        return Echo(info.kind, info.item_id, now - info.sent_at)

    def playing(self) -> bool:
        """Is audio of the current item (possibly) still playing to the caller?"""
        if self.item_id is None or self.item_id in self.cut_items or self.item_id in self.heard_in_full:
            return False
        if self.item_id in self._done_items and self.latest_media_ms - (self._start_media_ms or 0) >= (
            self.sent_bytes // 8
        ):
            return False
        return self.sent_bytes > 0

    def played_ms(self) -> int:
        sent_ms = self.sent_bytes // 8
        confirmed_ms = self.confirmed_bytes // 8
        by_clock = self.latest_media_ms - (self._start_media_ms or 0)
        return max(confirmed_ms, min(by_clock, sent_ms))

    def cut(self) -> tuple[str, int] | None:
        """Barge-in: forget pending marks (``clear`` echoes them) and return (item, played ms)."""
        self._pending.clear()
        if not self.playing():
            return None
        assert self.item_id is not None
        self.cut_items.add(self.item_id)
        return self.item_id, self.played_ms()
