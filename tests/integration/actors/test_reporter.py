"""Reporter and analysis pools come up as named actors; on-demand report and cleanup run through them."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from actors import _ray, handles
from actors.bootstrap import start_engine
from tests.integration.actors.conftest import SIM_FACTORY, Rig

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


async def test_reporter_builds_on_demand_and_cleans_up(rig: Rig) -> None:
    store = await rig.factory.store()
    settings = rig.configure(assessor_actors=1, fraud_actors=1)
    engine = await asyncio.to_thread(
        start_engine, settings, call_host_factory=SIM_FACTORY, analysis=True, reporter=True
    )
    # singleton: a second bootstrap finds the same actors
    again = await asyncio.to_thread(
        start_engine, settings, call_host_factory=SIM_FACTORY, analysis=True, reporter=True
    )
    assert again.reporter._actor_id == engine.reporter._actor_id
    assert again.dispatcher._actor_id == engine.dispatcher._actor_id

    today = dt.date.today()
    monday = today - dt.timedelta(days=today.weekday() + 7)
    report_id = await handles.build_report(str(store), monday.isoformat())
    assert report_id
    cleaned = await _ray.call(engine.reporter.cleanup_now.remote(), "cleanup", 60.0)
    assert isinstance(cleaned, str)
    assert any(n.startswith(_ray.ASSESSOR_PREFIX) for n in _ray.named_actors("callengine-"))
