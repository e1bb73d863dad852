"""``callengine bench``: how fast is the engine, measured (docs/benchmarks.md).

Two phases, both at real-time audio pace and both stopping by themselves:

1. **Relay ramp.** One CallHost process (on uvloop, as Ray runs it) holds N simultaneous calls at each
   level of a ramp; a peer process plays Twilio and OpenAI for every call,
   streaming 20 ms frames both ways and timestamping tagged frames, so the
   added relay latency is measured black-box in each direction, with the
   engine's CPU and memory per call (``engine/bench/relay.py``).
   Then, at the level it held, the two media modes side by side with the minimal public
   bridge in the same harness: Media Streams (that level), SIP (the same number of calls,
   sideband events only: ``engine/bench/sip.py``) and the bridge, each as CPU per call, MB
   per call and events per second.
2. **Whole engine.** The emulators in their own process at speed 1, the
   engine on Ray with PostgreSQL and the gRPC front door; happy-path calls are
   dispatched through gRPC. Dispatch rate, dial rate, hang-up → stored
   assessment latency and database rows per second.

``--soak SECONDS`` instead holds ``--calls`` calls on one CallHost for that long
and reports the host's memory slope (KB/min, least squares after warm-up): per-call
state that is never freed shows as a positive slope.

``--json`` prints one JSON object; a PNG plot of latency against concurrency is
written to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "bench",
        help="measure concurrency, relay latency, CPU/memory per call, dispatch and analysis speed",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--calls", type=int, default=200, help="peak simultaneous calls of the relay ramp")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of relay measurement in all")
    p.add_argument("--steps", type=int, default=4, help="ramp levels (calls/steps, 2·calls/steps, …)")
    p.add_argument("--engine-calls", type=int, default=20, help="calls of the whole-engine phase (0 = skip)")
    p.add_argument(
        "--soak",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="instead of the ramp: hold --calls calls this long and report each host's memory slope",
    )
    p.add_argument("--out", default="bench-output", help="folder for the plot and logs")
    p.add_argument("--json", action="store_true", help="print a single JSON object on stdout")
    p.set_defaults(func=_bench)


def _bench(args: argparse.Namespace) -> int:
    if args.calls < 1 or args.steps < 1 or args.duration <= 0 or args.engine_calls < 0:
        print("bench: --calls, --steps and --duration must be positive; --engine-calls >= 0", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.soak < 0:
        print("bench: --soak must be >= 0", file=sys.stderr)
        return 2
    if args.soak:
        import asyncio

        from engine.bench.relay import run_soak

        _say(args.json, f"soak: {args.calls} calls held for {args.soak:.0f} s")
        soak = asyncio.run(run_soak(args.calls, args.soak))
        print(json.dumps(soak) if args.json else json.dumps(soak, indent=2))
        return 0
    report = run_bench(args.calls, args.duration, args.steps, args.engine_calls, out, quiet=args.json)
    if args.json:
        print(json.dumps(report))
    else:
        print(json.dumps(report, indent=2))
    return 0


REALTIME_P99_MS = 50.0
"""A level "holds" its calls while p99 added latency stays under this in both directions."""


def held_level(ramp: list[dict[str, Any]]) -> dict[str, Any]:
    """The largest ramp level that kept real-time latency (else the smallest level)."""

    def p99(level: dict[str, Any]) -> float:
        return max(
            float(level["relay_twilio_to_realtime_ms"].get("p99", float("inf"))),
            float(level["relay_realtime_to_twilio_ms"].get("p99", float("inf"))),
        )

    ordered = sorted(ramp, key=lambda r: r["live_sessions"])
    held = [r for r in ordered if p99(r) <= REALTIME_P99_MS]
    return held[-1] if held else ordered[0]


def _say(quiet: bool, message: str) -> None:
    print(message, file=sys.stderr if quiet else sys.stdout, flush=True)


def run_bench(
    peak: int, duration_s: float, steps: int, engine_calls: int, out: Path, *, quiet: bool
) -> dict[str, Any]:

    from engine.bench.plot import plot_latency
    from engine.bench.relay import run_baseline, run_engine
    from engine.bench.relay_compare import run_on
    from engine.bench.sip import run_sip

    levels = sorted({max(1, round(peak * (i + 1) / steps)) for i in range(steps)})
    per_level = max(5.0, duration_s / len(levels))
    ramp: list[dict[str, Any]] = []
    for level in levels:
        _say(quiet, f"relay ramp: {level} simultaneous calls for {per_level:.0f} s")
        # the SessionHost's loop: Ray runs async actors on uvloop (a dependency)
        ramp.append(run_on("uvloop", run_engine(level, per_level)))
    top = held_level(ramp)
    n = top["live_sessions"]
    _say(quiet, f"media modes at {n} calls: the minimal bridge, then SIP media (no audio through the engine)")
    bridge = run_on("asyncio", run_baseline(n, per_level))
    sip = run_on("uvloop", run_sip(n, per_level))
    bridge_cpu = bridge["cpu_pct_per_call"] or float("nan")
    to_rt, to_tw = top["relay_twilio_to_realtime_ms"], top["relay_realtime_to_twilio_ms"]
    report: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "peak_concurrent_calls": top["live_sessions"],
        "realtime_p99_bound_ms": REALTIME_P99_MS,
        "relay_added_latency_ms": {
            "p50": max(to_rt.get("p50", 0.0), to_tw.get("p50", 0.0)),
            "p99": max(to_rt.get("p99", 0.0), to_tw.get("p99", 0.0)),
            "twilio_to_realtime": to_rt,
            "realtime_to_twilio": to_tw,
        },
        "memory_per_call_mb": top["mb_per_session"],
        "cpu_per_call_percent": top["cpu_pct_per_call"],
        "media_modes": {
            "calls": n,
            "streams": {
                "cpu_per_call_percent": top["cpu_pct_per_call"],
                "mb_per_call": top["mb_per_session"],
                "events_per_s": top["frames_relayed_per_s"],
                "cpu_vs_minimal_bridge": round(top["cpu_pct_per_call"] / bridge_cpu, 3),
                "cpu_us_per_relayed_frame": top["engine_cpu_us_per_relayed_frame"],
                "bridge_cpu_us_per_relayed_frame": bridge["engine_cpu_us_per_relayed_frame"],
            },
            "sip": {
                "cpu_per_call_percent": sip["cpu_pct_per_call"],
                "mb_per_call": sip["mb_per_session"],
                "events_per_s": sip["sideband_events_per_s"],
                "cpu_vs_minimal_bridge": round(sip["cpu_pct_per_call"] / bridge_cpu, 3),
            },
            "minimal_bridge": {
                "cpu_per_call_percent": bridge["cpu_pct_per_call"],
                "mb_per_call": bridge["mb_per_session"],
                "events_per_s": bridge["frames_relayed_per_s"],
            },
        },
        "ramp": ramp,
    }
    if engine_calls:
        from engine.bench.engine_phase import hangup_summary, run_engine_phase, summary_line

        _say(quiet, f"whole engine: {engine_calls} calls through gRPC, Ray, PostgreSQL and the emulators")
        phase = run_engine_phase(engine_calls, out)
        handoff = hangup_summary(engine_calls, phase.hangup_to_assessment_ms, phase.load_average)
        report.update(
            calls_completed=phase.calls_completed,
            dispatch_per_s=phase.dispatch_per_s,
            dispatch_latency_ms=phase.dispatch_latency_ms,
            dial_per_s=phase.dial_per_s,
            peak_in_progress_engine=phase.peak_in_progress,
            hangup_to_assessment_ms=handoff,
            db_rows_per_s=phase.db_rows_per_s,
            engine_phase_wall_s=phase.wall_s,
        )
        _say(quiet, summary_line(handoff))
    else:
        report.update(
            calls_completed=0,
            dispatch_per_s=None,
            hangup_to_assessment_ms={"p50": None, "p99": None, "n": 0},
        )
    plot = out / "latency-vs-concurrency.png"
    plot_latency(ramp, plot)
    report["plot"] = str(plot)
    return report
