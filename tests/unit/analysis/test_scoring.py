"""Scores, the reward mapping (range + monotonicity), config validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.analysis import scoring
from engine.analysis.config import DEFAULT_CONFIG, AnalysisConfig
from engine.errors import ConfigError

unit = st.floats(min_value=-0.5, max_value=1.5, allow_nan=False)


@given(unit, unit)
def test_reward_is_monotone_and_within_range(a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    r_lo = scoring.reward_percentage(lo, DEFAULT_CONFIG.reward)
    r_hi = scoring.reward_percentage(hi, DEFAULT_CONFIG.reward)
    assert 2.0 <= r_lo <= r_hi <= 15.0


@given(unit, unit, unit, unit)
def test_overall_is_monotone_in_each_score(l1: float, d1: float, u1: float, bump: float) -> None:
    sc = DEFAULT_CONFIG.scoring
    base = scoring.overall_score(l1, d1, u1, sc)
    up = abs(bump)
    assert 0.0 <= base <= 1.0
    assert scoring.overall_score(l1 + up, d1, u1, sc) >= base
    assert scoring.overall_score(l1, d1 + up, u1, sc) >= base
    assert scoring.overall_score(l1, d1, u1 + up, sc) >= base


def test_reward_knots_and_fraud_floor() -> None:
    r = DEFAULT_CONFIG.reward
    assert scoring.reward_percentage(0.0, r) == 2.0
    assert scoring.reward_percentage(0.5, r) == 6.75
    assert scoring.reward_percentage(1.0, r) == 15.0
    assert scoring.reward_percentage(float("nan"), r) == 2.0
    assert scoring.reward_percentage(1.0, r, fraudulent=True) == 2.0


def test_blend_weights_llm_and_rules() -> None:
    sc = DEFAULT_CONFIG.scoring
    assert scoring.blend(None, 0.4, sc) == 0.4
    assert scoring.blend(1.0, 0.0, sc) == pytest.approx(sc.llm_weight)


def test_config_overrides_and_errors() -> None:
    cfg = AnalysisConfig.from_mapping(
        {"fraud": {"fraud_threshold": 0.9}, "reward": {"knots": [[0, 2], [1, 15]]}}
    )
    assert cfg.fraud.fraud_threshold == 0.9 and cfg.reward.knots == ((0.0, 2.0), (1.0, 15.0))
    with pytest.raises(ConfigError, match=r"unknown field scoring\.nope"):
        AnalysisConfig.from_mapping({"scoring": {"nope": 1}})
    with pytest.raises(ConfigError, match="non-decreasing"):
        AnalysisConfig.from_mapping({"reward": {"knots": [[0, 5], [0.5, 3], [1, 15]]}})
    with pytest.raises(ConfigError, match="must be 1"):
        AnalysisConfig.from_mapping({"scoring": {"depth_weight": 0.9}})
