from __future__ import annotations

import argparse

import pytest

from storage import cli


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callengine")
    cli.register(parser.add_subparsers(dest="command"))
    return parser


def test_db_commands_parse() -> None:
    parser = _parser()
    args = parser.parse_args(["db", "downgrade", "0001"])
    assert args.revision == "0001" and callable(args.func)
    assert parser.parse_args(["db", "upgrade"]).revision == "head"
    assert parser.parse_args(["db", "cleanup", "--dry-run"]).dry_run is True
    assert parser.parse_args(["db", "rotate-keys", "--batch-size", "50"]).batch_size == 50


def test_db_needs_an_action() -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["db"])


def test_rotate_rejects_a_bad_batch_size(capsys: pytest.CaptureFixture[str]) -> None:
    args = _parser().parse_args(["db", "rotate-keys", "--batch-size", "0"])
    assert args.func(args) == 1
    assert "--batch-size" in capsys.readouterr().out
