"""``callengine emulate``: run the Twilio and OpenAI emulators in the foreground.

Prints one ``KEY=VALUE`` line per setting a client needs (the variable names
the engine reads), then serves until SIGINT/SIGTERM, and stops cleanly.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

_DESCRIPTION = """\
Run the offline Twilio (REST, status callbacks, Media Streams with simulated customers) and
OpenAI (Realtime WebSocket with a paraphrasing, tool-calling model, chat completions) emulators
on 127.0.0.1. A scenario file's [realtime] table sets how the emulated model behaves. Prints the settings
to export (e.g. `eval "$(callengine emulate | head -5 | sed 's/^/export /')"` in another shell),
then serves until interrupted."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "emulate",
        help="run the offline Twilio and OpenAI emulators",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--scenarios",
        type=Path,
        default=None,
        help="scenario file or directory (TOML/YAML); default: the set shipped with the package",
    )
    parser.add_argument(
        "--speed", type=float, default=1.0, help="time scale: 1.0 = real time, 10 = ten times faster"
    )
    parser.add_argument("--twilio-port", type=int, default=0, help="Twilio emulator port (0 = a free port)")
    parser.add_argument("--openai-port", type=int, default=0, help="OpenAI emulator port (0 = a free port)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument(
        "--sip-webhook-url",
        default=None,
        help="SIP media mode: where the OpenAI emulator POSTs realtime.call.incoming (a host's "
        "http(s)://…/openai/sip); without it SIP calls ring unanswered",
    )
    parser.add_argument(
        "--calls-per-second",
        type=float,
        default=None,
        help="Twilio create-call limit (429 beyond it); default none",
    )
    parser.set_defaults(func=run)


def _check(args: argparse.Namespace) -> str | None:
    if not args.speed > 0 or args.speed > 1000:
        return "--speed: must be > 0 and <= 1000"
    for name in ("twilio_port", "openai_port"):
        if not 0 <= getattr(args, name) < 65536:
            return f"--{name.replace('_', '-')}: must be within 0..65535"
    if args.calls_per_second is not None and not args.calls_per_second > 0:
        return "--calls-per-second: must be > 0"
    return None


def run(args: argparse.Namespace) -> int:
    import asyncio

    problem = _check(args)
    if problem:
        print(f"callengine emulate: {problem}", file=sys.stderr)
        return 2
    return asyncio.run(_serve(args))


async def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    import msgspec

    from engine.emulators.openai import ModelBehaviour, OpenAIEmulator, OpenAIEmulatorOptions
    from engine.emulators.scenarios import default_scenarios, load_scenarios
    from engine.emulators.twilio import TwilioEmulator, TwilioEmulatorOptions
    from engine.errors import ValidationError

    try:
        scenarios = load_scenarios(args.scenarios) if args.scenarios else default_scenarios()
    except ValidationError as exc:
        print(f"callengine emulate: scenarios: {exc}", file=sys.stderr)
        return 2
    twilio = TwilioEmulator(
        TwilioEmulatorOptions(
            host=args.host,
            port=args.twilio_port,
            speed=args.speed,
            scenarios=scenarios,
            calls_per_second=args.calls_per_second,
        )
    )
    model = ModelBehaviour(**msgspec.structs.asdict(scenarios.realtime))
    openai = OpenAIEmulator(
        OpenAIEmulatorOptions(host=args.host, port=args.openai_port, speed=args.speed, behaviour=model)
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        try:
            await twilio.start()
            await openai.start()
        except OSError as exc:
            print(f"callengine emulate: cannot listen: {exc}", file=sys.stderr)
            return 1
        # <Dial><Sip> reaches the OpenAI emulator's SIP side; its webhooks go to the engine.
        twilio.options.sip_gateway_url = openai.base_url.replace("http://", "ws://", 1) + "/sip"
        openai.sip.webhook_url = args.sip_webhook_url
        settings = {
            **twilio.env(),
            "OPENAI_BASE_URL": openai.base_url,
            "OPENAI_API_KEY": openai.api_key,
            "OPENAI_WEBHOOK_SECRET": openai.sip.webhook_secret,
        }
        for key, value in settings.items():
            print(f"{key}={value}")
        print(
            f"# {len(scenarios.scenarios)} scenarios, speed {args.speed:g}; Ctrl-C to stop",
            file=sys.stderr,
        )
        sys.stdout.flush()
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await openai.stop()
        await twilio.stop()
    return 0
