"""Real calls on the runtime for the fault-matrix tests: the Twilio and OpenAI emulators (in the test
process) behind real SessionHost actors, a store with a business context, and what every row of the
matrix asserts on the database afterwards."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import msgspec

from engine.config import DispatchSettings, HostSettings, Secret, SessionSettings, Settings
from engine.emulators.scenarios import default_scenarios, parse_scenarios
from engine.jobs.kinds import ANALYSIS_KINDS
from storage import Principal
from storage.records import BusinessContext
from tests.integration.actors.conftest import Rig, wait_for
from tests.integration.matrix import assert_settled_in_order_and_enqueued

SPEED = 4.0
CPS = 2.0
ANSWERS = ["Ja, allt fanns som jag ville.", "Frukten var fin och färsk.", "Kassan gick snabbt idag."]
ONE_QUESTION: dict[str, Any] = {"questions": [{"text": "Hittade du det du sökte?", "frequency": 1.0}]}
THREE_QUESTIONS: dict[str, Any] = {
    "questions": [
        {"id": "hitta", "text": "Hittade du det du sökte?", "frequency": 1.0},
        {"id": "frukt", "text": "Vad tyckte du om frukten?", "frequency": 1.0},
        {"id": "kassa", "text": "Hur gick det i kassan?", "frequency": 1.0},
    ],
    "max_questions_per_call": 3,
}


@dataclasses.dataclass
class RealCalls:
    twilio: Any
    openai: Any
    settings: Settings
    ids: list[uuid.UUID]
    phones: list[str]


async def setup_real_calls(
    rig: Rig,
    twilio_emulator_factory: Any,
    openai_emulator_factory: Any,
    phones: list[str],
    slots: int,
    questions: dict[str, Any] = ONE_QUESTION,
    **dispatch: Any,
) -> RealCalls:
    scenarios = [{"name": f"rt-{i}", "phone": p, "answers": ANSWERS} for i, p in enumerate(phones)]
    base = msgspec.to_builtins(default_scenarios().stores)
    tw = await twilio_emulator_factory(
        scenarios=parse_scenarios({"stores": base, "scenarios": scenarios}), calls_per_second=CPS
    )
    oa = await openai_emulator_factory()
    env = {**tw.env(), "OPENAI_BASE_URL": oa.base_url, "OPENAI_API_KEY": oa.api_key}
    from_env = Settings.from_env(env)
    settings = dataclasses.replace(
        rig.settings,
        twilio=dataclasses.replace(from_env.twilio, calls_per_second=CPS),
        openai=dataclasses.replace(from_env.openai, api_key=Secret(oa.api_key)),
        session=SessionSettings(
            # Twilio's TimeLimit (max_call_seconds + 60) counts emulated seconds: keep it out of reach.
            max_call_seconds=1200.0 / SPEED,
            silence_nudge_seconds=8.0 / SPEED,
            silence_hangup_seconds=20.0 / SPEED,
            transcript_flush_seconds=1.0 / SPEED,
        ),
        host=HostSettings(sessions_per_host=slots, drain_seconds=2.0),
        dispatch=DispatchSettings(
            poll_seconds=0.1, respect_call_windows=False, retry_backoff_seconds=(0.5,), **dispatch
        ),
    )
    store_id = await rig.factory.store()
    async with rig.db.transaction(Principal.service()) as tx:
        await tx.contexts.put_new_version(
            BusinessContext(
                store_id=store_id,
                operating_hours={"mon": "08:00-20:00"},
                departments=["frukt och grönt", "kassan"],
                current_campaigns=[{"name": "kaffe"}],
                question_configuration=questions,
                baseline_facts={},
            )
        )
    ids = [await rig.factory.session(store_id, p) for p in phones]
    return RealCalls(tw, oa, settings, ids, phones)


async def assert_matrix_invariants(rig: Rig, ids: list[uuid.UUID], *, assessed: bool = True) -> None:
    """What every fault-matrix row asserts on the database once the fault is over (on the runtime
    every session ends: nothing stuck or waiting), every stored line once and in order, and
    (``assessed``) every completed call assessed: its two analysis jobs done, its assessment stored."""
    completed = await assert_settled_in_order_and_enqueued(rig.db, ids)
    recs = await rig.statuses(ids)
    stuck = {sid: r.session_status for sid, r in recs.items() if not r.session_status.terminal}
    assert not stuck, f"sessions left live or waiting: {stuck}"
    if not assessed:
        return

    async def analysed() -> bool:
        async with rig.db.transaction(Principal.service()) as tx:
            for sid in completed:
                for kind in ANALYSIS_KINDS:
                    job = await tx.jobs.find(kind, f"{kind}:{sid}")
                    if job is None or job.state != "done":
                        return False
        return True

    await wait_for(analysed, 90, "every completed call's analysis jobs done")
    async with rig.db.transaction(Principal.service()) as tx:
        for sid in completed:
            assessment = await tx.assessments.get_by_session(sid)
            assert assessment is not None and assessment.call_session_id == sid
