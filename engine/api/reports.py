"""On-demand weekly reports for GenerateWeeklyReport, behind a small port.

The default builds in this process through the analysis service (statistics,
plus LLM themes when an OpenAI key or base URL is configured). The Reporter
actor can offer the same port later; the servicer does not care which.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Protocol

from engine.config import Settings
from storage.database import Database
from storage.principal import Principal


class ReportPort(Protocol):
    async def generate(self, store_id: uuid.UUID, week_monday: dt.date) -> None:
        """Build (or rebuild) and store the report of the week starting ``week_monday``."""
        ...


class LocalReports:
    """Builds reports in-process with :func:`engine.analysis.service.build_weekly_report`."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._llm: Any = None
        from engine.analysis.config import load_config

        self._config = load_config(settings.analysis_config)

    def _model(self) -> Any:
        if self._llm is None:
            from engine.analysis.llm import llm_from_settings

            self._llm = llm_from_settings(self.settings.openai, self._config.llm)
        return self._llm

    async def generate(self, store_id: uuid.UUID, week_monday: dt.date) -> None:
        from engine.analysis.service import build_weekly_report

        # The engine writes reports (service role); the caller's rights were checked
        # by the servicer and the read-back runs as the caller under RLS.
        await build_weekly_report(
            self.db, self._model(), store_id, week_monday, principal=Principal.service(), config=self._config
        )
