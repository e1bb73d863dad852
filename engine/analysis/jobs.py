"""The analysis pools' work as a plain class: what an ``analysis.assess`` or ``analysis.fraud`` job
does (actors/pools.py hosts one per actor; the hand-off benchmark runs the same code without Ray)."""

from __future__ import annotations

import uuid
from typing import Any

# At import, not at the first job: a pool actor imports this as it starts, so the first burst of
# calls after a (re)start does not wait seconds for the analysis modules to load.
from engine.analysis import service
from engine.analysis.config import AnalysisConfig
from engine.jobs import kinds
from engine.jobs.runner import Job, KindOptions

FRAUD_YIELD_SECONDS = 2.0
"""The longest a fraud check waits for assessments to go first."""


class AnalysisWork:
    """Runs one completed session's assessment or fraud check (idempotent: a re-run replaces)."""

    def __init__(self, db: Any, llm: Any, config: AnalysisConfig) -> None:
        self.db = db
        self.llm = llm
        self.config = config

    async def handle(self, job: Job) -> None:
        sid = uuid.UUID(str(job.payload["session_id"]))
        if job.kind == kinds.ASSESS:
            await service.assess_session(self.db, self.llm, sid, config=self.config)
        else:
            await service.check_fraud(self.db, self.llm, sid, config=self.config)

    def kinds(self, *names: str) -> dict[str, KindOptions]:
        """The job kinds this work runs (both by default), for a :class:`JobRunner`.

        The fraud check yields to assessments: when many calls end together, their
        assessments (what hang-up → stored assessment measures) get the CPU first; a fraud
        check waits while any assessment is due or running, at most ``FRAUD_YIELD_SECONDS``
        (the reward stays held until it has run, so nothing is paid early)."""
        return {
            name: KindOptions(self.handle)
            if name == kinds.ASSESS
            else KindOptions(self.handle, yields_to=(kinds.ASSESS,), yield_max_seconds=FRAUD_YIELD_SECONDS)
            for name in names or kinds.ANALYSIS_KINDS
        }
