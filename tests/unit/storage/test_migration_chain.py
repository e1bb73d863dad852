"""Alembic keeps one linear chain: two revisions on the same parent fail here, not in production."""

from __future__ import annotations

import shutil
from pathlib import Path

import storage.migrations
from storage import migrate

VERSIONS = Path(storage.migrations.__file__).parent / "versions"


def test_the_revisions_form_one_linear_chain() -> None:
    assert migrate.chain_problems() == []
    assert migrate.head() is not None


def _copy(tmp_path: Path) -> Path:
    location = tmp_path / "migrations"
    shutil.copytree(VERSIONS, location / "versions", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(VERSIONS.parent / "script.py.mako", location)
    return location


def _add(location: Path, name: str, revision: str, down: str | tuple[str, ...]) -> None:
    (location / "versions" / f"{name}.py").write_text(
        f'"""test revision"""\nrevision = {revision!r}\ndown_revision = {down!r}\n'
        "branch_labels = None\ndepends_on = None\n\n\ndef upgrade() -> None:\n    pass\n\n\n"
        "def downgrade() -> None:\n    pass\n",
        encoding="utf-8",
    )


def test_two_revisions_on_one_parent_are_reported(tmp_path: Path) -> None:
    location = _copy(tmp_path)
    parent = migrate.head()
    assert parent is not None
    _add(location, "9001_a", "9001_a", parent)
    _add(location, "9001_b", "9001_b", parent)
    problems = migrate.chain_problems(str(location))
    assert any("2 heads ['9001_a', '9001_b']" in p for p in problems), problems
    assert any(f"revision {parent} has several children" in p for p in problems), problems


def test_a_merge_revision_is_reported(tmp_path: Path) -> None:
    location = _copy(tmp_path)
    parent = migrate.head()
    assert parent is not None
    _add(location, "9001_a", "9001_a", parent)
    _add(location, "9001_b", "9001_b", parent)
    _add(location, "9002_merge", "9002_merge", ("9001_a", "9001_b"))
    problems = migrate.chain_problems(str(location))
    assert any("merges" in p for p in problems), problems
