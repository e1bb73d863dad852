from __future__ import annotations

from engine.dispatch.placement import HostView, choose_host, idle_hosts_to_drain, plan


def hv(hid: str, cap: int, free: int, **kw: object) -> HostView:
    return HostView(hid, cap, free, **kw)  # type: ignore[arg-type]


def test_least_loaded_host_wins() -> None:
    hosts = [hv("a", 10, 2), hv("b", 10, 7), hv("c", 10, 7, draining=True)]
    chosen = choose_host(hosts)
    assert chosen is not None and chosen.host_id == "b"
    assert choose_host([hv("a", 1, 0)]) is None
    # ties → lowest id
    chosen = choose_host([hv("z", 5, 3), hv("y", 5, 3)])
    assert chosen is not None and chosen.host_id == "y"


def test_reserved_slots_count_as_used() -> None:
    h = hv("a", 4, 2, reserved=2)
    assert h.available == 0 and choose_host([h]) is None


def test_plan_spreads_evenly() -> None:
    p = plan([hv("a", 10, 10), hv("b", 10, 10)], 6, slots_per_host=10, max_hosts=4)
    assert p.assignments == {"a": 3, "b": 3} and p.start_hosts == 0 and p.waiting == 0


def test_plan_starts_hosts_when_all_full() -> None:
    p = plan([hv("a", 2, 0)], 5, slots_per_host=2, max_hosts=10)
    assert p.waiting == 5 and p.start_hosts == 3
    # hosts already starting count
    p = plan([hv("a", 2, 0)], 5, slots_per_host=2, max_hosts=10, starting=2)
    assert p.start_hosts == 1
    # capped by max_hosts
    p = plan([hv("a", 2, 0)], 50, slots_per_host=2, max_hosts=3)
    assert p.start_hosts == 2


def test_dedicated_mode_one_slot_per_host() -> None:
    p = plan([], 3, slots_per_host=1, max_hosts=10)
    assert p.start_hosts == 3


def test_idle_hosts_drained_but_keep_minimum() -> None:
    hosts = [hv("a", 5, 5, idle_since=0.0), hv("b", 5, 5, idle_since=50.0), hv("c", 5, 3)]
    assert idle_hosts_to_drain(hosts, now=100.0, idle_seconds=30, keep=1) == ["a", "b"]
    assert idle_hosts_to_drain(hosts, now=100.0, idle_seconds=60, keep=1) == ["a"]
    assert idle_hosts_to_drain(hosts, now=100.0, idle_seconds=30, keep=2) == ["a"]
    assert idle_hosts_to_drain(hosts, now=100.0, idle_seconds=30, keep=3) == []


def test_plan_uses_every_last_slot() -> None:
    p = plan([hv("a", 3, 1), hv("b", 3, 3)], 4, slots_per_host=3, max_hosts=2)
    assert p.assignments == {"b": 3, "a": 1} and p.waiting == 0 and p.start_hosts == 0
    one = plan([hv("a", 1, 1)], 1, slots_per_host=1, max_hosts=1)
    assert one.assignments == {"a": 1} and one.waiting == 0


def test_plan_never_exceeds_max_hosts_counting_those_starting() -> None:
    full = plan([hv("a", 2, 0), hv("b", 2, 0)], 3, slots_per_host=2, max_hosts=2)
    assert (full.start_hosts, full.waiting) == (0, 3)
    # One host up, one starting, max two: the starting one is all there is room for.
    p = plan([hv("a", 2, 0)], 5, slots_per_host=2, max_hosts=2, starting=1)
    assert (p.start_hosts, p.waiting) == (0, 5)
    q = plan([hv("a", 2, 0)], 5, slots_per_host=2, max_hosts=4, starting=1)
    assert (q.start_hosts, q.waiting) == (2, 5)


def test_idle_for_exactly_the_threshold_drains_oldest_first() -> None:
    hosts = [hv("a", 2, 2, idle_since=0.5), hv("b", 2, 2, idle_since=0.0), hv("c", 2, 1)]
    assert idle_hosts_to_drain(hosts, now=10.0, idle_seconds=5.0, keep=1) == ["b", "a"]
    assert idle_hosts_to_drain(hosts, now=10.0, idle_seconds=5.0, keep=2) == ["b"]
    # a has been idle exactly 9.5 s: that is long enough.
    assert idle_hosts_to_drain(hosts, now=10.0, idle_seconds=9.5, keep=0) == ["b", "a"]
    assert idle_hosts_to_drain(hosts, now=10.0, idle_seconds=9.6, keep=0) == ["b"]
