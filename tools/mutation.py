"""Mutation testing of the pure core with mutmut, one module at a time (``make mutation``).

The modules are ``[tool.mutmut].only_mutate`` in pyproject.toml. For each one,
``mutmut run`` mutates only that module and runs the unit tests that reach the
mutated function; afterwards every module's score is printed as a table and each
survivor's diff is written to ``mutants/survivors/<module>.txt``.

    python tools/mutation.py                                # every listed module, from scratch
    python tools/mutation.py --keep engine/dispatch/rate.py # one module, reuse earlier results

Kept deliberately gentle on a shared machine: ``MUTATION_CHILDREN`` (default 1)
test processes at a time, each module in turn. Exit status 1 when a module is
below ``MUTATION_MIN`` percent killed (default 85).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"
# A timeout is a detected mutant (the mutant made the code hang); "no tests" and "suspicious" are not.
DETECTED = {"killed", "timeout", "caught by type check"}


def configured_modules() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return list(config["tool"]["mutmut"]["only_mutate"])


def dotted(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def mutmut(*args: str, log: Path | None = None) -> str:
    exe = Path(sys.executable).with_name("mutmut")
    cmd = [str(exe), *args]
    if log is None:
        return subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    with log.open("w", encoding="utf-8") as out:
        # mutmut exits 0 even with survivors; a non-zero exit is a broken run (e.g. the tests fail unmutated).
        done = subprocess.run(cmd, cwd=ROOT, check=False, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        lines = log.read_text(encoding="utf-8", errors="replace").replace("\r", "\n").splitlines()
        why = [line for line in lines if line.startswith(("FAILED", "ERROR", "failed to"))][-10:]
        sys.exit(f"mutmut failed (exit {done.returncode}); see {log}\n" + "\n".join(why))
    return ""


def results() -> dict[str, str]:
    """Mutant name → status, for every mutant mutmut knows."""
    status: dict[str, str] = {}
    for line in mutmut("results", "--all", "true").splitlines():
        name, sep, state = line.strip().rpartition(": ")
        if sep and name:
            status[name] = state
    return status


def score_table(modules: list[str], status: dict[str, str], minimum: float) -> tuple[str, list[str]]:
    rows = [
        "| module | mutants | killed | survived | no tests | other | score |",
        "|---|---|---|---|---|---|---|",
    ]
    below: list[str] = []
    for module in modules:
        prefix = dotted(module) + ".x"
        counts = Counter(s for name, s in status.items() if name.startswith(prefix))
        total = sum(counts.values())
        killed = sum(counts[s] for s in DETECTED)
        other = total - killed - counts["survived"] - counts["no tests"]
        score = 100.0 * killed / total if total else 0.0
        if score < minimum:
            below.append(module)
        rows.append(
            f"| {module} | {total} | {killed} | {counts['survived']} | {counts['no tests']} | {other} "
            f"| {score:.0f} % |"
        )
    return "\n".join(rows), below


# `mutmut show NAME` for many names in one process (one process per name takes a second each).
_SHOW_ALL = """
import sys
from mutmut.__main__ import find_mutant
from mutmut.mutation.diff_apply import get_diff_for_mutant
for name in sys.argv[1:]:
    print(get_diff_for_mutant(name, path=find_mutant(name).path))
    print("\\0", flush=True)
"""


def diffs(names: list[str]) -> list[str]:
    if not names:
        return []
    try:
        out = subprocess.run(
            [sys.executable, "-c", _SHOW_ALL, *names], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout
        parts = out.split("\0\n")[: len(names)]
        if len(parts) == len(names):
            return parts
    except subprocess.CalledProcessError:
        pass  # another mutmut version: ask it one name at a time
    return [mutmut("show", n) for n in names]


def write_survivors(modules: list[str], status: dict[str, str]) -> None:
    out_dir = MUTANTS / "survivors"
    out_dir.mkdir(parents=True, exist_ok=True)
    for module in modules:
        prefix = dotted(module) + ".x"
        names = [n for n, s in status.items() if n.startswith(prefix) and s not in DETECTED]
        text = [f"# {n}: {status[n]}\n{diff}" for n, diff in zip(names, diffs(names), strict=True)]
        (out_dir / f"{dotted(module)}.txt").write_text("\n".join(text), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("modules", nargs="*", help="module paths (default: every configured module)")
    parser.add_argument("--keep", action="store_true", help="reuse mutants/ from an earlier run")
    args = parser.parse_args(argv)
    configured = configured_modules()
    modules = args.modules or configured
    unknown = [m for m in modules if m not in configured]
    if unknown:
        parser.error(f"not in [tool.mutmut].only_mutate: {unknown}")
    children = os.environ.get("MUTATION_CHILDREN", "1")
    minimum = float(os.environ.get("MUTATION_MIN", "85"))
    if not args.keep and MUTANTS.exists():
        shutil.rmtree(MUTANTS)
    logs = MUTANTS / "logs"
    for module in modules:
        started = time.monotonic()
        print(f"mutating {module} …", flush=True)
        logs.mkdir(parents=True, exist_ok=True)
        mutmut("run", "--max-children", children, dotted(module) + ".*", log=logs / f"{dotted(module)}.log")
        print(f"  done in {time.monotonic() - started:.0f} s", flush=True)
    status = results()
    table, below = score_table(modules, status, minimum)
    write_survivors(modules, status)
    print(table)
    print(f"\nsurvivors' diffs: {MUTANTS / 'survivors'}/")
    if below:
        print(f"below {minimum:g} % killed: {', '.join(below)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
