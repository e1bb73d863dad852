"""Through the whole runtime (Ray, the Dispatcher, its analysis and delivery actors, simulated calls):
a backend receives, signed, a ``call.settled`` event for every settled call and the analysis events
of every completed one; the Dispatcher and its delivery actors SIGKILLed on the way lose none."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
from pathlib import Path

import pytest

from actors import _ray
from actors.bootstrap import start_engine
from engine.events.types import ASSESSMENT_STORED, CALL_SETTLED, REWARD_CHANGED
from tests.fixtures.webhooks import WebhookReceiver
from tests.integration.actors.conftest import SIM_FACTORY, Rig
from tests.integration.events.conftest import with_endpoints

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


async def test_a_backend_receives_signed_events_for_every_settled_call(rig: Rig, tmp_path: Path) -> None:
    receiver = WebhookReceiver(tmp_path)
    url = await receiver.start()
    try:
        log = rig.call_log({}, default_hold=0.5)  # kept: the simulated hosts look it up by name
        ids = await rig.sessions(4)
        base = rig.configure(slots=4, cps=10.0, assessor_actors=1, fraud_actors=1, job_lease_seconds=3.0)
        settings = with_endpoints(
            base,
            {"backend": url},
            receiver.secret,
            webhook_ca_file=receiver.ca_file,
            webhook_backoff_seconds=(0.2,),
        )
        settings = dataclasses.replace(
            settings, events=dataclasses.replace(settings.events, delivery_actors=1)
        )
        engine = await asyncio.to_thread(
            start_engine, settings, call_host_factory=SIM_FACTORY, analysis=True, reporter=False
        )
        wanted = {str(i) for i in ids}

        def settled(r: WebhookReceiver) -> set[str]:
            return {e.body["subject"] for e in r.of_type(CALL_SETTLED)}

        await receiver.wait_for(lambda r: len(settled(r)) >= 1, 90)
        # the Dispatcher dies with its delivery and analysis actors; their restarts take the jobs over
        pid = await _ray.call(engine.dispatcher.pid.remote(), "dispatcher pid", 10.0)
        os.kill(pid, signal.SIGKILL)
        await receiver.wait_for(lambda r: settled(r) >= wanted, 150)

        def analysed(r: WebhookReceiver) -> bool:
            return all(
                {e.body["subject"] for e in r.of_type(kind)} >= wanted
                for kind in (ASSESSMENT_STORED, REWARD_CHANGED)
            )

        await receiver.wait_for(analysed, 150)
    finally:
        await receiver.stop()
    assert receiver.rejected == 0, "every delivery carried a valid signature"
    for event in receiver.of_type(CALL_SETTLED):
        assert event.webhook_id == event.body["id"] and event.body["data"]["status"] == "completed"
    assert not [e for e in receiver.received if "+46" in str(e.body)], "no phone number in any event"
    assert len(await log.all.remote()) == len(ids), "each call dialled once"
