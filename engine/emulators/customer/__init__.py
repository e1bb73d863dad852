"""Simulated customers that speak and listen on the Twilio emulator's media streams."""

from __future__ import annotations

from engine.emulators.customer.caller import (
    Caller,
    CallerAction,
    CallerLog,
    MachineCaller,
    ScenarioCaller,
    SilentCaller,
    is_voiced,
)
from engine.emulators.scenarios import Scenario, ScenarioSet

VOICEMAIL_HANGUP_S = 30.0


def build_caller(
    scenario: Scenario | None,
    scenarios: ScenarioSet,
    *,
    outcome: str,
    log: CallerLog | None = None,
    seed: str = "",
) -> Caller:
    """The caller for an answered call: silent for unknown numbers, a voicemail, or the scenario's customer."""
    if scenario is None:
        return SilentCaller(scenarios.unknown_number.hangup_after_seconds)
    if outcome == "voicemail":
        return MachineCaller(
            scenario.voicemail_greeting, scenario.hangup_after_seconds or VOICEMAIL_HANGUP_S, log
        )
    departments, campaigns = scenarios.vocabulary()
    return ScenarioCaller(
        scenario, departments=departments, campaigns=campaigns, log=log, seed=seed or scenario.name
    )


__all__ = [
    "Caller",
    "CallerAction",
    "CallerLog",
    "MachineCaller",
    "ScenarioCaller",
    "SilentCaller",
    "build_caller",
    "is_voiced",
]
