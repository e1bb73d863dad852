"""Every third-party import is declared in pyproject.toml, in the right place.

Product code (engine/, actors/, storage/) may import only the core dependencies; the demo and
the benchmarks may also use the ``demo`` extra, the embedded server the ``embedded`` extra,
and the tests any extra. A declared core dependency that nothing imports is an error too,
unless it is listed below with the reason it is needed.
"""

from __future__ import annotations

import ast
import gc
import re
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OWN = {"engine", "actors", "storage", "tests"}

# Files that may use an extra beyond the core dependencies.
EXTRA_SCOPES: list[tuple[str, set[str]]] = [
    ("engine/demo/", {"demo"}),
    ("engine/bench/", {"demo"}),
    ("engine/emulators/scenarios/loader.py", {"demo"}),  # YAML scenario files (lazy import)
    ("storage/embedded.py", {"embedded"}),
    ("engine/api/protogen.py", {"test"}),  # `make proto`: protoc from grpcio-tools
    ("tests/", {"demo", "embedded", "test", "dev"}),
]

# Core dependencies the code never imports by name.
NOT_IMPORTED = {
    "psycopg": "SQLAlchemy's PostgreSQL driver, chosen by the postgresql+psycopg:// URL",
}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(spec: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", spec)
    assert match, spec
    return _norm(match.group(0))


@cache
def declared() -> dict[str, set[str]]:
    """Group ("core" or an extra) → normalised distribution names."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    groups = {"core": {_requirement_name(s) for s in project["dependencies"]}}
    for extra, specs in project.get("optional-dependencies", {}).items():
        groups[extra] = {_requirement_name(s) for s in specs if not s.startswith("callengine")}
        # An extra that includes another (callengine[demo]) gets its packages too.
        for spec in specs:
            if spec.startswith("callengine["):
                for inner in spec[len("callengine[") : -1].split(","):
                    groups[extra] |= {
                        _requirement_name(s)
                        for s in project["optional-dependencies"][inner.strip()]
                        if not s.startswith("callengine")
                    }
    return groups


_top_levels = cache(metadata.packages_distributions)


@cache
def owners_of(module: str) -> frozenset[str]:
    """Distributions that provide ``module`` (top-level; top.sub inside a namespace like google)."""
    top, _, rest = module.partition(".")
    found = _top_levels().get(top, [])
    if len(found) > 1 and rest:
        # A namespace package shared by several distributions: find the one with the subpackage.
        sub = rest.split(".")[0]
        found = [
            d
            for d in found
            if any(f.parts[:2] in ((top, sub), (top, f"{sub}.py")) for f in metadata.files(d) or ())
        ]
    return frozenset(_norm(d) for d in found)


@cache
def _parse(source: str) -> ast.Module:
    # CPython 3.11 raises "AST constructor recursion depth mismatch" when a garbage
    # collection runs finalizers (e.g. an earlier test's destroyed asyncio task logging)
    # in the middle of building the tree: no collection during the parse.
    gc.disable()
    try:
        return ast.parse(source)
    finally:
        gc.enable()


def imports(path: Path) -> tuple[str, ...]:
    found: list[str] = []
    for node in ast.walk(_parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return tuple(found)


@cache
def distribution_of(module: str) -> str | None:
    top = module.split(".")[0]
    if top in sys.stdlib_module_names or top in OWN or top == "__future__":
        return None
    found = owners_of(".".join(module.split(".")[:2]))
    assert found, f"no installed distribution provides {module!r}"
    return sorted(found)[0] if len(found) == 1 else _prefer_declared(found)


def _prefer_declared(found: frozenset[str]) -> str:
    every = set().union(*declared().values())
    hits = sorted(found & every)
    return hits[0] if hits else sorted(found)[0]


def source_files() -> Iterator[Path]:
    for top in ("engine", "actors", "storage", "tests"):
        for path in (ROOT / top).rglob("*.py"):
            if "engine/api/gen" not in path.as_posix():
                yield path


def allowed_groups(rel: str) -> set[str]:
    groups = {"core"}
    for prefix, extras in EXTRA_SCOPES:
        if rel.startswith(prefix):
            groups |= extras
    return groups


def test_every_import_is_declared_where_it_is_used() -> None:
    groups = declared()
    problems = []
    for path in source_files():
        rel = path.relative_to(ROOT).as_posix()
        allowed = set().union(*(groups.get(g, set()) for g in allowed_groups(rel)))
        for module in imports(path):
            dist = distribution_of(module)
            if dist is not None and dist not in allowed:
                where = [g for g, names in groups.items() if dist in names] or ["nowhere"]
                problems.append(f"{rel}: imports {module} ({dist}), declared in {where}")
    assert not problems, "\n".join(sorted(set(problems)))


def test_every_core_dependency_is_used() -> None:
    used = set()
    for path in source_files():
        if not path.relative_to(ROOT).as_posix().startswith("tests/"):
            used |= {d for m in imports(path) if (d := distribution_of(m))}
    unused = declared()["core"] - used - set(NOT_IMPORTED)
    assert not unused, f"core dependencies nothing in engine/actors/storage imports: {sorted(unused)}"


def test_generated_stubs_set_the_protobuf_and_grpcio_minimums() -> None:
    """The versions `make proto` stamped into the stubs are the declared minimums."""
    from engine.api import protogen

    needed = protogen.stub_requirements()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = {_requirement_name(s): s for s in project["dependencies"]}
    for name, version in needed.items():
        assert name in specs, f"{name} not declared"
        assert f">={version}" in specs[name].replace(" ", ""), (
            f"{specs[name]!r}: the stubs need {name}>={version}; run `make proto`"
        )


def test_make_proto_rewrites_stale_minimums(tmp_path: Path) -> None:
    from engine.api import protogen

    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        'dependencies = [\n    "grpcio>=1.70,<2",\n    "grpcio-reflection>=1.82.1,<2",\n    "protobuf>=5.29",\n]\n',
        encoding="utf-8",
    )
    assert protogen.sync_minimums({"protobuf": "7.35.1", "grpcio": "1.85.1"}, pyproject)
    text = pyproject.read_text(encoding="utf-8")
    assert '"grpcio>=1.85.1,<2"' in text and '"protobuf>=7.35.1,<8"' in text
    assert '"grpcio-reflection>=1.82.1,<2"' in text  # a different package is left alone
    assert not protogen.sync_minimums({"protobuf": "7.35.1", "grpcio": "1.85.1"}, pyproject)
