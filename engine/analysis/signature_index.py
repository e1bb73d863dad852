"""Recent MinHash signatures for near-duplicate checks, refreshed incrementally per process.

Pattern rows keep each call's signature (and store id) in ``fraud_indicators``.
Scanning the whole window for every check costs O(calls in the window); this
index reads the window once, then only rows newer than its watermark (minus an
overlap, for transactions that committed late), and drops entries that leave
the window. A FraudPool actor keeps one per database handle.
"""

from __future__ import annotations

import datetime as dt
import weakref
from typing import Any

from engine.analysis.models import DuplicateCandidate
from engine.domain import CheckType
from storage import Tx
from storage import records as rec


class SignatureIndex:
    def __init__(
        self, window: dt.timedelta, limit: int, overlap: dt.timedelta = dt.timedelta(minutes=2)
    ) -> None:
        self.window = window
        self.limit = limit
        self.overlap = overlap
        self._entries: dict[str, tuple[dt.datetime, str | None, list[int]]] = {}
        self._watermark: dt.datetime | None = None
        self.rows_read = 0
        """Rows read from the database so far (for tests and metrics)."""

    async def refresh(self, tx: Tx, now: dt.datetime) -> None:
        oldest = now - self.window
        # Rows carry the engine's clock: a watermark ahead of ``now`` means the clock was set
        # back (a shifted demo week, a test), and rows older than the watermark may still come.
        mark = self._watermark
        since = oldest if mark is None or mark > now else max(oldest, mark - self.overlap)
        token: str | None = None
        newest = self._watermark
        fetched = 0
        while fetched < self.limit:
            page = await tx.fraud.list(rec.FraudFilter(check_type=CheckType.PATTERN, since=since), 500, token)
            for r in page.items:
                fetched += 1
                self.rows_read += 1
                if r.created_at is not None and (newest is None or r.created_at > newest):
                    newest = r.created_at
                entry = _entry(r)
                if entry is not None:
                    self._entries[str(r.call_session_id)] = entry
            token = page.next_page_token
            if not token:
                break
        self._watermark = newest or now
        stale = [k for k, (at, _, _) in self._entries.items() if at < oldest]
        for k in stale:
            del self._entries[k]
        if len(self._entries) > self.limit:
            keep = sorted(self._entries.items(), key=lambda kv: kv[1][0], reverse=True)[: self.limit]
            self._entries = dict(keep)

    def candidates(self, store_id: str) -> list[DuplicateCandidate]:
        return [
            DuplicateCandidate(sid, None, sig, same_store=store == store_id)
            for sid, (_, store, sig) in self._entries.items()
        ]

    def __len__(self) -> int:
        return len(self._entries)


def _entry(r: rec.FraudResult) -> tuple[dt.datetime, str | None, list[int]] | None:
    ind: Any = r.fraud_indicators
    if not isinstance(ind, dict) or not isinstance(ind.get("minhash"), list) or not ind["minhash"]:
        return None
    at = r.created_at or dt.datetime.now(dt.UTC)
    store = ind.get("store")
    return at, store if isinstance(store, str) else None, [int(v) for v in ind["minhash"]]


_INDEXES: weakref.WeakKeyDictionary[Any, SignatureIndex] = weakref.WeakKeyDictionary()


def index_for(db: Any, window: dt.timedelta, limit: int) -> SignatureIndex:
    """The process-wide index for ``db`` (created on first use)."""
    index = _INDEXES.get(db)
    if index is None or index.window != window or index.limit != limit:
        index = SignatureIndex(window, limit)
        _INDEXES[db] = index
    return index
