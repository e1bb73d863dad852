"""Running the relay bench's sides on a chosen event loop, and same-run comparisons.

    python -m engine.bench.relay --compare 3 --sessions 50 --seconds 10

Kept apart from :mod:`engine.bench.relay` (the harness itself).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
from collections.abc import Coroutine
from typing import Any

from engine.bench.relay import DELTA_MS


def run_on(loop: str, coro: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    """Run the measured side on the named event loop and say which one it was."""
    if loop == "uvloop":
        import uvloop

        result = uvloop.run(coro)
    else:
        result = asyncio.run(coro)
    return {**result, "event_loop": loop}


def compare(pairs: int, sessions: int, seconds: float, baseline_loops: tuple[str, ...]) -> dict[str, Any]:
    """Alternate engine and minimal-bridge runs (each in a fresh process) and report medians.

    Same-run ratios are the finding on a shared machine: the load changes between runs,
    so each pair's ratio (engine CPU per relayed frame / bridge's) is taken, then the median.
    """
    runs: dict[str, list[dict[str, Any]]] = {"engine": [], **{f"bridge_{lp}": [] for lp in baseline_loops}}
    for _ in range(pairs):
        for name in runs:
            args = ["--sessions", str(sessions), "--seconds", str(seconds), "--delta-ms", str(DELTA_MS[0])]
            if name == "engine":
                args += ["--loop", "uvloop"]
            else:
                args += ["--baseline", "--loop", name.removeprefix("bridge_")]
            out = subprocess.run(
                [sys.executable, "-m", "engine.bench.relay", *args],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            runs[name].append(json.loads(out.stdout))

    def med(name: str, key: str) -> float:
        return round(statistics.median(r[key] for r in runs[name]), 1)

    def med_latency(name: str, direction: str, q: str) -> float | None:
        values = [r[direction].get(q) for r in runs[name] if r[direction].get(q) is not None]
        return round(statistics.median(values), 2) if values else None

    summary: dict[str, Any] = {"pairs": pairs, "sessions": sessions, "seconds": seconds, "modes": {}}
    for name in runs:
        summary["modes"][name] = {
            "cpu_us_per_relayed_frame": [r["engine_cpu_us_per_relayed_frame"] for r in runs[name]],
            "median_cpu_us_per_relayed_frame": med(name, "engine_cpu_us_per_relayed_frame"),
            "frames_relayed_per_s": [r["frames_relayed_per_s"] for r in runs[name]],
            "full_rate_frames_per_s": runs[name][0]["full_rate_frames_per_s"],
            "median_mb_per_session": med(name, "mb_per_session"),
            "median_twilio_to_realtime_ms": {
                q: med_latency(name, "relay_twilio_to_realtime_ms", q) for q in ("p50", "p99")
            },
            "median_realtime_to_twilio_ms": {
                q: med_latency(name, "relay_realtime_to_twilio_ms", q) for q in ("p50", "p99")
            },
            "load_avg_1m": [r["load_avg_1m"] for r in runs[name]],
        }
    for lp in baseline_loops:
        ratios = [
            e["engine_cpu_us_per_relayed_frame"] / b["engine_cpu_us_per_relayed_frame"]
            for e, b in zip(runs["engine"], runs[f"bridge_{lp}"], strict=True)
        ]
        summary[f"engine_over_bridge_{lp}"] = {
            "per_pair": [round(x, 3) for x in ratios],
            "median": round(statistics.median(ratios), 3),
        }
    return summary
