"""Placement of calls on SessionHosts: least loaded first; a new host when all are full;
idle hosts picked for draining so nodes can scale down."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass
class HostView:
    """What the dispatcher knows about one SessionHost."""

    host_id: str
    capacity: int
    free_slots: int
    draining: bool = False
    last_seen: float = 0.0
    idle_since: float | None = None
    """Monotonic time the host last became empty; None while it has calls."""
    reserved: int = 0
    """Slots promised to calls the host has not confirmed yet."""

    @property
    def available(self) -> int:
        return 0 if self.draining else max(0, self.free_slots - self.reserved)

    @property
    def active(self) -> int:
        return self.capacity - self.free_slots


@dataclass(frozen=True)
class PlacementPlan:
    """Calls assigned to hosts, how many new hosts to start, and how many calls must wait."""

    assignments: dict[str, int] = field(default_factory=dict)
    start_hosts: int = 0
    waiting: int = 0


def choose_host(hosts: Iterable[HostView]) -> HostView | None:
    """The host with the most available slots (ties: lowest id, for determinism)."""
    open_hosts = [h for h in hosts if h.available > 0]
    return min(open_hosts, key=lambda h: (-h.available, h.host_id), default=None)


def plan(
    hosts: Sequence[HostView],
    calls: int,
    *,
    slots_per_host: int,
    max_hosts: int,
    starting: int = 0,
) -> PlacementPlan:
    """Spread ``calls`` over ``hosts`` one at a time, always onto the least-loaded host.

    Calls that do not fit ask for new hosts (up to ``max_hosts`` counting the
    ``starting`` ones already requested); they wait until those hosts are up.
    """
    avail = {h.host_id: h.available for h in hosts}
    assignments: dict[str, int] = {}
    placed = 0
    for _ in range(calls):
        candidates = [hid for hid, n in avail.items() if n > 0]
        if not candidates:
            break
        hid = min(candidates, key=lambda k: (-avail[k], k))
        avail[hid] -= 1
        assignments[hid] = assignments.get(hid, 0) + 1
        placed += 1
    waiting = calls - placed
    pending_capacity = starting * slots_per_host
    need = max(0, waiting - pending_capacity)
    room = max(0, max_hosts - len(hosts) - starting)
    start = min(room, -(-need // slots_per_host)) if need else 0
    return PlacementPlan(assignments, start, waiting)


def idle_hosts_to_drain(
    hosts: Sequence[HostView], *, now: float, idle_seconds: float, keep: int
) -> list[str]:
    """Hosts empty for at least ``idle_seconds``, oldest idle first, keeping ``keep`` hosts alive."""
    live = [h for h in hosts if not h.draining]
    idle = sorted(
        (h for h in live if h.idle_since is not None and now - h.idle_since >= idle_seconds),
        key=lambda h: (h.idle_since or 0.0, h.host_id),
    )
    spare = max(0, len(live) - keep)
    return [h.host_id for h in idle[:spare]]
