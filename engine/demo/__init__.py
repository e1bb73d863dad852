"""``callengine demo``: the whole job, end to end, on embedded defaults (see runner.py)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo",
        help="run the main job end to end against the emulators",
        description="Starts the emulators, embedded PostgreSQL (unless DATABASE_URL), local Ray (unless "
        "RAY_ADDRESS) and the engine; seeds three stores and the scenario set's verifications through "
        "the gRPC API, dispatches the calls, waits for assessments and fraud checks, pays the rewards, "
        "builds weekly reports and prints a summary. Earlier weeks run first on the engine's clock set "
        "back by whole weeks, so the reports show trends; a local HTTPS backend receives the engine's "
        "signed webhooks. Exits non-zero if anything went differently from the scenarios.",
    )
    p.add_argument("--speed", type=float, default=4.0, help="emulator speed factor (default 4)")
    p.add_argument("--calls", type=int, default=None, help="dial only this many verifications this week")
    p.add_argument(
        "--weeks",
        type=int,
        default=4,
        help="weeks of calls including this one (default 4; earlier weeks need a purely local run)",
    )
    p.add_argument("--out", default="demo-output", help="folder for reports and logs (default demo-output)")
    p.add_argument("--timeout", type=float, default=170.0, help="seconds calls may take to settle")
    p.add_argument(
        "--keep-data", action="store_true", help="reuse the embedded demo database instead of starting fresh"
    )
    p.add_argument(
        "--media",
        choices=("streams", "sip"),
        default="streams",
        help="how the audio reaches OpenAI: Twilio Media Streams through the engine (default) or "
        "SIP (Twilio dials the OpenAI project; the engine steers the call over the sideband)",
    )
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from engine.demo.runner import DemoOptions, run_demo

    if args.speed <= 0 or args.speed > 50:
        print("--speed: must be within (0, 50]")
        return 2
    if args.calls is not None and args.calls < 1:
        print("--calls: must be >= 1")
        return 2
    if not 1 <= args.weeks <= 12:
        print("--weeks: must be within 1..12")
        return 2
    options = DemoOptions(
        speed=args.speed,
        calls=args.calls,
        out_dir=Path(args.out),
        timeout_s=args.timeout,
        reset=not args.keep_data,
        media=args.media,
        history_weeks=args.weeks - 1,
    )
    return run_demo(options)
