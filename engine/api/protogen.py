"""Generate the Python stubs for ``proto/callengine/v1/*.proto`` into ``engine/api/gen``.

``make proto`` runs ``python -m engine.api.protogen``. protoc writes modules
that import each other as ``callengine.v1.x_pb2``; we flatten them into
``engine/api/gen`` and rewrite those imports, because ``proto/`` is never a
Python package (the top-level name ``proto`` belongs to proto-plus).

``generate(out_dir)`` is also what the staleness test calls, into a temp dir.

The stubs refuse to import on an older runtime than the one that generated them
(protobuf's gencode check, grpcio's version check), so ``make proto`` also writes
those versions into pyproject.toml as the ``protobuf`` and ``grpcio`` minimums
(``stub_requirements``; a unit test checks they agree).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = REPO_ROOT / "proto"
PROTO_DIR = PROTO_ROOT / "callengine" / "v1"
GEN_DIR = Path(__file__).resolve().parent / "gen"
GEN_PACKAGE = "engine.api.gen"

_INIT = '"""Generated protobuf/gRPC stubs for callengine.v1. Do not edit: run ``make proto``."""\n'
_IMPORT_RE = re.compile(r"^from callengine\.v1 import (\w+)", re.MULTILINE)
_PROTOBUF_RE = re.compile(r"^# Protobuf Python Version: (\d+\.\d+\.\d+)", re.MULTILINE)
_GRPC_RE = re.compile(r"^GRPC_GENERATED_VERSION = '(\d+\.\d+\.\d+)'", re.MULTILINE)
PYPROJECT = REPO_ROOT / "pyproject.toml"


def proto_files() -> list[Path]:
    return sorted(PROTO_DIR.glob("*.proto"))


def generate(out_dir: Path) -> list[Path]:
    """Run protoc over every proto file and write the flattened modules to ``out_dir``."""
    import grpc_tools
    from grpc_tools import protoc

    well_known = Path(grpc_tools.__file__).resolve().parent / "_proto"
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp)
        args = [
            "grpc_tools.protoc",
            f"-I{PROTO_ROOT}",
            f"-I{well_known}",
            f"--python_out={raw}",
            f"--pyi_out={raw}",
            f"--grpc_python_out={raw}",
            *(str(p.relative_to(PROTO_ROOT)) for p in proto_files()),
        ]
        code = protoc.main(args)
        if code != 0:
            raise RuntimeError(f"protoc failed with exit code {code}")
        written = []
        for src in sorted((raw / "callengine" / "v1").iterdir()):
            if src.suffix not in (".py", ".pyi"):
                continue
            text = _IMPORT_RE.sub(rf"from {GEN_PACKAGE} import \1", src.read_text(encoding="utf-8"))
            dest = out_dir / src.name
            dest.write_text(text, encoding="utf-8")
            written.append(dest)
    init = out_dir / "__init__.py"
    init.write_text(_INIT, encoding="utf-8")
    written.append(init)
    return written


def stub_requirements(gen_dir: Path = GEN_DIR) -> dict[str, str]:
    """The lowest ``protobuf`` and ``grpcio`` the generated stubs accept, read from the stubs."""
    needed: dict[str, str] = {}
    for pattern, name in ((_PROTOBUF_RE, "protobuf"), (_GRPC_RE, "grpcio")):
        versions = {m for p in gen_dir.glob("*.py") for m in pattern.findall(p.read_text(encoding="utf-8"))}
        if len(versions) != 1:
            raise RuntimeError(f"expected one {name} version stamped in {gen_dir}, found {sorted(versions)}")
        needed[name] = versions.pop()
    return needed


def sync_minimums(needed: dict[str, str], pyproject: Path = PYPROJECT) -> bool:
    """Rewrite the ``protobuf``/``grpcio`` lower bounds in pyproject.toml; True if it changed."""
    text = pyproject.read_text(encoding="utf-8")
    new = text
    for name, version in needed.items():
        major = int(version.split(".")[0])
        # protobuf's runtime accepts gencode of its own major only; grpcio keeps 1.x.
        upper = f"<{major + 1}" if name == "protobuf" else "<2"
        new, count = re.subn(rf'"{name}(\[[^\]]*\])?[<>=!~,.\d ]*"', rf'"{name}\1>={version},{upper}"', new)
        if count != 1:
            raise RuntimeError(f"pyproject.toml: expected one {name} requirement, found {count}")
    if new != text:
        pyproject.write_text(new, encoding="utf-8")
    return new != text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--out", type=Path, default=GEN_DIR, help="output directory (default: engine/api/gen)"
    )
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(path)
    if args.out == GEN_DIR:
        needed = stub_requirements()
        changed = sync_minimums(needed)
        pins = ", ".join(f"{k}>={v}" for k, v in needed.items())
        print(f"pyproject.toml: {pins} ({'updated' if changed else 'unchanged'})")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
