"""Measure per-event decode cost of a Realtime audio delta: openai SDK (pydantic) vs our msgspec codec.

``python -m engine.bench.realtime_parse`` prints microseconds per event. The
result (docs/session.md) is why the bridge reads raw frames and decodes with
:mod:`engine.realtime.events` instead of ``AsyncRealtimeConnection.recv()``.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any, cast

from engine.realtime import events

DELTA = json.dumps(
    {
        "type": "response.output_audio.delta",
        "event_id": "event_123",
        "response_id": "resp_1",
        "item_id": "item_1",
        "output_index": 0,
        "content_index": 0,
        "delta": base64.b64encode(bytes(range(256)) * 3 + bytes(32)).decode(),  # 800 B = 100 ms
    }
)


def _per_event_us(fn: Callable[[str], Any], n: int) -> float:
    fn(DELTA)
    t0 = time.perf_counter()
    for _ in range(n):
        fn(DELTA)
    return (time.perf_counter() - t0) / n * 1e6


def measure(n: int = 20000) -> dict[str, float]:
    from openai._models import construct_type_unchecked
    from openai.types.realtime import RealtimeServerEvent

    def sdk(raw: str) -> Any:  # exactly AsyncRealtimeConnection.parse_event
        return construct_type_unchecked(value=json.loads(raw), type_=cast(Any, RealtimeServerEvent))

    return {
        "openai_sdk_parse_event_us": round(_per_event_us(sdk, n), 2),
        "json_loads_only_us": round(_per_event_us(json.loads, n), 2),
        "msgspec_events_decode_us": round(_per_event_us(events.decode, n), 2),
    }


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
