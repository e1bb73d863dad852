"""What the front door needs from the rest of the engine, as small Protocols.

The Ray-backed implementation lives in ``actors/ingress.py``; unit tests use
in-process fakes. Keeping the seam here means the servicer never imports Ray.
"""

from __future__ import annotations

import uuid
from typing import Protocol


class DispatcherPort(Protocol):
    """The Dispatcher, seen from the API."""

    async def notify(self, session_id: uuid.UUID) -> None:
        """Wake up: session ``session_id`` was written ``pending`` and may be due.

        Best effort: the Dispatcher also polls the database, so a lost notice
        only delays a call, it never loses one.
        """
        ...

    async def cancel(self, session_id: uuid.UUID) -> None:
        """Stop a call that may already be ringing or connected (the status is already written)."""
        ...

    async def ping(self) -> bool:
        """True while the Dispatcher answers (drives the health status)."""
        ...

    async def held_reason(self) -> str | None:
        """Why due calls are not being dialled now (a provider's circuit breaker is open:
        ``realtime_unavailable`` / ``twilio_unavailable``), or None."""
        ...
