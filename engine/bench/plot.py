"""The bench's plot: added relay latency against simultaneous calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_latency(ramp: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ramp = sorted(ramp, key=lambda r: r["live_sessions"])
    calls = [r["live_sessions"] for r in ramp]
    fig, (lat, cpu) = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, label in (
        ("relay_twilio_to_realtime_ms", "Twilio → Realtime"),
        ("relay_realtime_to_twilio_ms", "Realtime → Twilio"),
    ):
        for pct, style in (("p50", "-o"), ("p99", "--s")):
            lat.plot(calls, [r[key].get(pct, float("nan")) for r in ramp], style, label=f"{label} {pct}")
    lat.set_xlabel("simultaneous calls")
    lat.set_ylabel("added relay latency (ms)")
    lat.set_title("Relay latency vs concurrency")
    lat.grid(alpha=0.3)
    lat.legend(fontsize=8)
    cpu.plot(calls, [r["engine_cpu_pct_of_core"] for r in ramp], "-o", label="engine CPU (% of a core)")
    cpu.set_xlabel("simultaneous calls")
    cpu.set_ylabel("% of one core")
    cpu.set_title("Engine CPU vs concurrency")
    cpu.grid(alpha=0.3)
    cpu.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
