from __future__ import annotations

from pathlib import Path

import pytest

from engine.bench.engine_phase import percentiles
from engine.bench.plot import plot_latency
from engine.cli import main


def test_percentiles() -> None:
    assert percentiles([]) == {"p50": None, "p99": None, "n": 0}
    got = percentiles([float(v) for v in range(1, 101)])
    assert got["p50"] == 50.5
    assert got["p99"] == 100.0
    assert got["n"] == 100


def test_plot_is_a_png(tmp_path: Path) -> None:
    level = {
        "relay_twilio_to_realtime_ms": {"p50": 1.0, "p99": 2.0},
        "relay_realtime_to_twilio_ms": {"p50": 1.5, "p99": 3.0},
        "engine_cpu_pct_of_core": 10.0,
    }
    ramp = [{**level, "live_sessions": 10}, {**level, "live_sessions": 20}]
    path = tmp_path / "p.png"
    plot_latency(ramp, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args", [["--calls", "0"], ["--duration", "-1"], ["--engine-calls", "-2"]])
def test_bad_arguments_are_refused(args: list[str], tmp_path: Path) -> None:
    assert main(["bench", "--out", str(tmp_path), *args]) == 2


def test_held_level_is_the_largest_that_kept_real_time() -> None:
    from engine.bench.cli import held_level

    def level(n: int, p99: float) -> dict[str, object]:
        return {
            "live_sessions": n,
            "relay_twilio_to_realtime_ms": {"p99": p99},
            "relay_realtime_to_twilio_ms": {"p99": p99 / 2},
        }

    ramp = [level(50, 10.0), level(100, 40.0), level(150, 400.0)]
    assert held_level(ramp)["live_sessions"] == 100
    assert held_level([level(10, 900.0), level(20, 990.0)])["live_sessions"] == 10


def test_the_hand_off_figure_states_the_target_and_the_load() -> None:
    from engine.bench.engine_phase import hangup_summary, summary_line

    met = hangup_summary(20, {"p50": 180.0, "p99": 640.0, "n": 20}, (0.4, 1.1))
    assert met["target_met"] is True and met["target_p99_ms"] == 1000.0
    line = summary_line(met)
    assert "p99 640 ms" in line and "met" in line and "0.4 → 1.1" in line
    missed = hangup_summary(20, {"p50": 900.0, "p99": 1680.0, "n": 20}, (7.9, 8.4))
    assert missed["target_met"] is False and "NOT met" in summary_line(missed)
    assert "not measured" in summary_line(hangup_summary(20, {"p50": None, "p99": None, "n": 0}, (1, 1)))
