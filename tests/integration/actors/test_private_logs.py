"""Private logs in every process: a real call through a SessionHost actor and a real assessment
through the analysis pools, then every log file Ray wrote is scanned for the customer's number
and the transcript text. Zero hits."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from actors.bootstrap import start_engine
from engine.errors import NotFoundError
from storage import Principal
from tests.integration.actors.conftest import Rig, wait_for
from tests.integration.actors.real_calls import setup_real_calls
from tests.integration.actors.test_real_calls import _lines

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
SPEED = 4.0
PHONE = "+46701749377"


@pytest.fixture
def emulator_speed() -> float:
    return SPEED


def _ray_log_files() -> list[Path]:
    import ray

    session_dir = Path(ray._private.worker._global_node.get_session_dir_path())
    return [p for p in (session_dir / "logs").rglob("*") if p.is_file()]


async def test_no_number_or_transcript_in_any_ray_log(
    rig: Rig, twilio_emulator_factory: Any, openai_emulator_factory: Any
) -> None:
    calls = await setup_real_calls(rig, twilio_emulator_factory, openai_emulator_factory, [PHONE], 1)
    await asyncio.to_thread(start_engine, calls.settings, analysis=True, reporter=False)
    (sid,) = calls.ids

    async def assessed() -> bool:
        try:
            async with rig.db.transaction(Principal.admin(None)) as tx:
                await tx.assessments.get_by_session(sid)
            return True
        except NotFoundError:
            return False

    await wait_for(assessed, 180, "the call assessed by the analysis pools")
    lines = [line.content for line in await _lines(rig, sid)]
    assert any(len(text) >= 12 for text in lines), lines
    secrets = {PHONE, PHONE[3:], *(t for t in lines if len(t) >= 12)}
    needles = {s for text in secrets for s in (text, json.dumps(text)[1:-1])}
    files = _ray_log_files()
    assert any(p.name.startswith(("worker-", "python-core-worker")) for p in files), "no worker logs found"
    hits = []
    for path in files:
        content = path.read_text(encoding="utf-8", errors="replace")
        hits += [(path.name, needle[:20]) for needle in needles if needle in content]
    assert hits == []
    # and the engine's own lines are there, as JSON with the session as a field
    ours = [
        line
        for path in files
        if path.suffix in (".err", ".out")
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
        if line.startswith("{") and f'"session_id": "{sid}"' in line
    ]
    assert ours, "no JSON log line with this session's id in any worker log"
