"""The soak's memory slope: least squares over (seconds, KB) samples, in KB per minute."""

from __future__ import annotations

from engine.bench.relay import memory_slope_kb_per_min


def test_flat_memory_has_no_slope_and_growth_is_measured() -> None:
    assert memory_slope_kb_per_min([(0, 100), (1, 100), (2, 100)]) == 0.0
    assert memory_slope_kb_per_min([(0, 1000), (30, 1500), (60, 2000)]) == 1000.0
    assert memory_slope_kb_per_min([(0, 1)]) is None
