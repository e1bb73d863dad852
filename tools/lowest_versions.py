"""Check the declared minimum versions: install the lowest ones and run the unit tests.

``make lowest`` (part of ``make test``) runs this. In a throwaway virtualenv, ``uv`` resolves
every direct requirement of the project (and of the extras the tests need) to the lowest
version its range allows (``--resolution lowest-direct``); the unit tests then run there.
A minimum that no longer works fails the tests; a minimum that cannot even be installed with
the rest (another package needs more) fails here, naming the version that really is the
lowest, so the declared ranges never claim more than was tested.

uv keeps downloaded wheels in its cache, so after the first run this costs the install (a few
seconds) and one unit-test run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = ("test",)  # includes demo and embedded


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_minimums(extras: tuple[str, ...] = EXTRAS) -> dict[str, str]:
    """Normalised name → declared lower bound, for the core and the (transitively) named extras."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    optional = project.get("optional-dependencies", {})
    specs = list(project["dependencies"])
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for spec in optional[extra]:
            if spec.startswith("callengine["):
                todo += [e.strip() for e in spec[len("callengine[") : -1].split(",")]
            else:
                specs.append(spec)
    minimums = {}
    for spec in specs:
        match = re.match(r"([A-Za-z0-9._-]+)(\[[^\]]*\])?\s*(.*)", spec)
        assert match, spec
        lower = re.search(r">=\s*([0-9][0-9A-Za-z.]*)", match.group(3))
        if lower:
            minimums[_norm(match.group(1))] = lower.group(1)
    return minimums


def _release(version: str) -> tuple[int, ...]:
    parts = re.match(r"\d+(\.\d+)*", version)
    assert parts, version
    numbers = [int(p) for p in parts.group(0).split(".")]
    while numbers and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


def run(uv: str, venv: Path, pytest_args: list[str]) -> int:
    env = {**os.environ, "VIRTUAL_ENV": str(venv), "UV_PYTHON_DOWNLOADS": "never"}
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, env=env)
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--resolution", "lowest-direct", "-e", f".[{','.join(EXTRAS)}]"],
        check=True,
        env=env,
        cwd=ROOT,
    )
    listed = subprocess.run(
        [uv, "pip", "list", "--format", "json"], check=True, env=env, capture_output=True, text=True
    )
    installed = {_norm(p["name"]): p["version"] for p in json.loads(listed.stdout)}
    higher = {
        name: (minimum, installed[name])
        for name, minimum in declared_minimums().items()
        if name in installed and _release(installed[name]) != _release(minimum)
    }
    if higher:
        for name, (minimum, got) in sorted(higher.items()):
            print(f"lowest-versions: {name}>={minimum} is declared, but the lowest installable is {got}")
        print("lowest-versions: raise those minimums in pyproject.toml to what is really tested")
        return 1
    print(f"lowest-versions: {len(declared_minimums())} declared minimums install as declared; unit tests:")
    python = venv / "bin" / "python"
    return subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args], cwd=ROOT
    ).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--uv", default=shutil.which("uv") or "uv", help="the uv executable")
    parser.add_argument("--keep", type=Path, help="build the venv here and keep it (default: a temp dir)")
    parser.add_argument("pytest_args", nargs="*", default=["tests/unit"])
    args = parser.parse_args(argv)
    if args.keep:
        shutil.rmtree(args.keep, ignore_errors=True)
        return run(args.uv, args.keep, args.pytest_args)
    with tempfile.TemporaryDirectory(prefix="callengine-lowest-") as tmp:
        return run(args.uv, Path(tmp) / "venv", args.pytest_args)


if __name__ == "__main__":
    sys.exit(main())
