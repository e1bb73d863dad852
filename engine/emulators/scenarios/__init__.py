"""Scenario files for the simulated customers: schema, loading, validation, the default set."""

from engine.emulators.scenarios.loader import (
    E164_RE,
    ScenarioSet,
    default_scenarios,
    load_scenarios,
    parse_scenarios,
)
from engine.emulators.scenarios.schema import (
    Attempt,
    Gap,
    Impairments,
    RealtimeModel,
    Scenario,
    ScenarioFile,
    Store,
    Turn,
    UnknownNumber,
    Verification,
)

__all__ = [
    "E164_RE",
    "Attempt",
    "Gap",
    "Impairments",
    "RealtimeModel",
    "Scenario",
    "ScenarioFile",
    "ScenarioSet",
    "Store",
    "Turn",
    "UnknownNumber",
    "Verification",
    "default_scenarios",
    "load_scenarios",
    "parse_scenarios",
]
