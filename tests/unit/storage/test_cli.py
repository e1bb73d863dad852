from __future__ import annotations

import sys

import pytest

from engine.cli import build_parser


def test_db_and_demo_commands_are_registered_without_heavy_imports() -> None:
    heavy = [m for m in ("sqlalchemy", "pgserver", "alembic") if m in sys.modules]
    parser = build_parser()
    args = parser.parse_args(["db", "downgrade", "0001"])
    assert args.revision == "0001" and callable(args.func)
    assert parser.parse_args(["db", "cleanup", "--dry-run"]).dry_run is True
    assert parser.parse_args(["db", "rotate-keys", "--batch-size", "50"]).batch_size == 50
    assert callable(parser.parse_args(["demo"]).func)
    for module in ("storage.cli", "engine.demo"):
        assert module in sys.modules
    if not heavy:  # registering must not have pulled the database stack in
        assert "pgserver" not in sys.modules


def test_db_needs_an_action() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["db"])
