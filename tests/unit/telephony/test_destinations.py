"""The host refuses to dial outside the allowed country codes, whatever the session holds."""

from __future__ import annotations

import pytest

from engine.telephony.destinations import GEO_PERMISSION_CODE, DestinationGuard
from engine.telephony.rest import DialRejectedError


class Recorder:
    def __init__(self) -> None:
        self.dialled: list[str] = []

    async def create_call(self, *, to: str, **_: object) -> str:
        self.dialled.append(to)
        return "CA" + "0" * 32

    async def end_call(self, call_sid: str, *, answered: bool, say: str | None = None) -> None:
        return None

    async def aclose(self) -> None:
        return None


async def test_only_allowed_codes_reach_twilio() -> None:
    inner = Recorder()
    guard = DestinationGuard(inner, ("+46", "+47"))
    kw = {"twiml": "<Response/>", "status_callback": "https://x/status", "timeout_s": 30, "time_limit_s": 60}
    await guard.create_call(to="+46701234567", **kw)  # type: ignore[arg-type]
    await guard.create_call(to="+4790000000", **kw)  # type: ignore[arg-type]
    with pytest.raises(DialRejectedError) as info:
        await guard.create_call(to="+12025550123", **kw)  # type: ignore[arg-type]
    assert info.value.code == GEO_PERMISSION_CODE and not info.value.retryable
    assert inner.dialled == ["+46701234567", "+4790000000"] and guard.refused == 1
