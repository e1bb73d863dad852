"""Scores, the reward mapping (range + monotonicity), config validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.analysis import scoring
from engine.analysis.config import DEFAULT_CONFIG, AnalysisConfig, RewardConfig, ScoringConfig
from engine.analysis.models import Signals
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


def _signals(**over: object) -> Signals:
    base: dict[str, object] = {
        "customer_turns": 3,
        "customer_words": 30,
        "mean_answer_words": 10.0,
        "questions_asked": 3,
        "questions_answered": 3,
        "coverage": 0.5,
        "departments": ["Bageri"],
        "foreign_departments": [],
        "products": [],
        "times": 0,
        "topics": [],
        "specific_mentions": 1,
        "generic_answers": 0,
        "generic_ratio": 0.0,
        "positive_mentions": 0,
        "negative_mentions": 0,
    }
    base.update(over)
    return Signals(**base)  # type: ignore[arg-type]


def test_rule_scores_follow_the_documented_formulas() -> None:
    sc = ScoringConfig()  # targets: 20 words, 4 mentions, 3 items; generic penalty 0.6
    legit, depth, useful = scoring.rule_scores(_signals(), 1, sc)
    assert depth == pytest.approx(0.5 * 10 / 20 + 0.3 * 0.5 + 0.2 * 1 / 4)  # 0.45
    assert useful == pytest.approx(0.5 * 1 / 3 + 0.3 * 1 / 2)
    assert legit == pytest.approx(1.0)
    rich = _signals(
        mean_answer_words=45.0,
        coverage=1.0,
        specific_mentions=9,
        departments=["Bageri", "Kassa", "Chark"],
        negative_mentions=1,
    )
    assert scoring.rule_scores(rich, 7, sc)[1:] == pytest.approx((1.0, 1.0))  # each part saturates
    three = scoring.rule_scores(_signals(departments=["A", "B", "C"], negative_mentions=1), 0, sc)
    assert three[2] == pytest.approx(0.3 + 0.2)
    one_neg = scoring.rule_scores(_signals(negative_mentions=1), 0, sc)
    assert one_neg[2] == pytest.approx(0.3 * 0.5 + 0.2)


def test_rule_legitimacy_penalties() -> None:
    sc = ScoringConfig()
    assert scoring.rule_scores(_signals(generic_ratio=0.5), 0, sc)[0] == pytest.approx(0.7)
    assert scoring.rule_scores(_signals(foreign_departments=["Apotek"]), 0, sc)[0] == pytest.approx(0.7)
    assert scoring.rule_scores(_signals(coverage=0.33), 0, sc)[0] == pytest.approx(0.8)
    assert scoring.rule_scores(_signals(coverage=0.34), 0, sc)[0] == pytest.approx(1.0)
    worst = _signals(generic_ratio=1.0, foreign_departments=["Apotek"], coverage=0.0)
    assert scoring.rule_scores(worst, 0, sc)[0] == 0.0  # 1 − 0.6 − 0.3 − 0.2, clamped


def test_blend_weights_the_llm_and_falls_back_to_rules() -> None:
    sc = ScoringConfig(llm_weight=0.6)
    assert scoring.blend(1.0, 0.5, sc) == pytest.approx(0.6 + 0.4 * 0.5)
    assert scoring.blend(0.0, 0.5, sc) == pytest.approx(0.2)
    assert scoring.blend(1.7, 0.0, sc) == pytest.approx(0.6)  # the LLM's score is clamped first
    assert scoring.blend(None, 0.42, sc) == 0.42
    assert scoring.blend(None, 1.3, sc) == 1.0


def test_round2_rounds_half_up() -> None:
    assert scoring.round2(0.125) == 0.13
    assert scoring.round2(2.675) == 2.68  # repr, not the binary value, is rounded
    assert scoring.round2(0.124) == 0.12


def test_reward_piecewise_values_and_clamps() -> None:
    rc = RewardConfig()
    assert scoring.reward_percentage(0.5, rc) == 6.75  # halfway between (0.4, 5) and (0.6, 8.5)
    assert scoring.reward_percentage(0.2, rc) == 2.0
    assert scoring.reward_percentage(1.0, rc) == 15.0
    assert scoring.reward_percentage(0.9, rc, fraudulent=True) == 2.0
    generous = RewardConfig(knots=((0.0, 2.0), (0.5, 20.0)), fraud_reward=40.0)
    assert scoring.reward_percentage(0.4, generous) == 15.0  # never above 15 %
    assert scoring.reward_percentage(0.9, generous) == 15.0  # past the last knot: its value, capped
    assert scoring.reward_percentage(0.0, generous, fraudulent=True) == 15.0
    short = RewardConfig(knots=((0.0, 2.0), (0.5, 6.0), (0.6, 9.0)))
    assert scoring.reward_percentage(0.8, short) == 9.0  # beyond the knots: the last one's value


def test_each_rule_part_saturates_on_its_own() -> None:
    sc = ScoringConfig()
    long_only = _signals(mean_answer_words=40.0, coverage=0.0, specific_mentions=0, departments=[])
    assert scoring.rule_scores(long_only, 0, sc)[1] == pytest.approx(0.5)
    specific_only = _signals(mean_answer_words=0.0, coverage=0.0, specific_mentions=8)
    assert scoring.rule_scores(specific_only, 0, sc)[1] == pytest.approx(0.2)
    items_only = _signals(departments=[], negative_mentions=0)
    assert scoring.rule_scores(items_only, 6, sc)[2] == pytest.approx(0.5)
