"""The repository explains itself: no comment or doc points at a document outside it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Built from parts so this file does not match itself.
OUTSIDE = re.compile(
    "|".join(re.escape(name + ".md") for name in ("protocols", "STYLE", "DESIGN", "data-model"))
    + "|"
    + re.escape("../" + "shared")
)
TEXT_SUFFIXES = {".py", ".md", ".proto", ".toml", ".yaml", ".yml", ".txt", ".conf", ".ini", ".mako", ".cfg"}


def _files() -> list[Path]:
    found = [p for p in ROOT.iterdir() if p.is_file()]
    for top in ("engine", "actors", "storage", "tests", "docs", "proto", "deploy", "tools", ".ci"):
        if (ROOT / top).is_dir():
            found += [p for p in (ROOT / top).rglob("*") if p.is_file()]
    return [
        p
        for p in found
        if (p.suffix in TEXT_SUFFIXES or p.name in ("Makefile", "Dockerfile", "run"))
        and "__pycache__" not in p.parts
    ]


def test_no_reference_to_documents_outside_the_repository() -> None:
    hits = []
    for path in _files():
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not hits, "state the fact here or point at docs/ instead:\n" + "\n".join(hits)


def test_the_check_would_catch_one() -> None:
    assert OUTSIDE.search("see " + "protocols" + ".md 2.7")
    assert OUTSIDE.search("(``../" + "shared/DESIGN" + ".md``)")
