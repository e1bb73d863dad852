"""Scores and the reward mapping (formulas documented in docs/analysis.md).

depth_rules      = 0.5·min(1, mean_answer_words / target_answer_words)
                 + 0.3·coverage
                 + 0.2·min(1, specific_mentions / target_specific_mentions)
usefulness_rules = 0.5·min(1, actionable_items / target_actionable_items)
                 + 0.3·min(1, departments_named / 2)
                 + 0.2·[any negative mention or suggestion]
legitimacy_rules = clamp(1 − generic_penalty·generic_ratio − 0.3·[foreign department named]
                         − 0.2·[coverage < 0.34])
blended score    = llm_weight·llm + (1 − llm_weight)·rules   (rules only when the LLM failed)
overall          = legitimacy × (depth_weight·depth + usefulness_weight·usefulness)
reward           = piecewise-linear(overall) through RewardConfig.knots, 2.00..15.00
"""

from __future__ import annotations

import itertools
import math
from decimal import ROUND_HALF_UP, Decimal

from engine.analysis.config import RewardConfig, ScoringConfig
from engine.analysis.models import Signals

FORMULA_VERSION = "overall=L*(wd*D+wu*U);blend=a*llm+(1-a)*rules;v1"


def clamp01(x: float) -> float:
    if math.isnan(x):
        return 0.0
    return min(1.0, max(0.0, x))


def round2(x: float) -> float:
    return float(Decimal(repr(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def rule_scores(signals: Signals, n_items: int, config: ScoringConfig) -> tuple[float, float, float]:
    """(legitimacy, depth, usefulness) from deterministic signals alone."""
    depth = (
        0.5 * min(1.0, signals.mean_answer_words / config.target_answer_words)
        + 0.3 * signals.coverage
        + 0.2 * min(1.0, signals.specific_mentions / config.target_specific_mentions)
    )
    usefulness = (
        0.5 * min(1.0, n_items / config.target_actionable_items)
        + 0.3 * min(1.0, len(signals.departments) / 2)
        + 0.2 * (1.0 if signals.negative_mentions > 0 else 0.0)
    )
    legitimacy = (
        1.0
        - config.generic_penalty * signals.generic_ratio
        - (0.3 if signals.foreign_departments else 0.0)
        - (0.2 if signals.coverage < 0.34 else 0.0)
    )
    return clamp01(legitimacy), clamp01(depth), clamp01(usefulness)


def blend(llm: float | None, rules: float, config: ScoringConfig) -> float:
    if llm is None:
        return clamp01(rules)
    return clamp01(config.llm_weight * clamp01(llm) + (1.0 - config.llm_weight) * rules)


def overall_score(legitimacy: float, depth: float, usefulness: float, config: ScoringConfig) -> float:
    return clamp01(
        clamp01(legitimacy)
        * (config.depth_weight * clamp01(depth) + config.usefulness_weight * clamp01(usefulness))
    )


def reward_percentage(overall: float, config: RewardConfig, *, fraudulent: bool = False) -> float:
    """Monotone non-decreasing map 0..1 → 2.00..15.00 (rounded half-up to cents)."""
    if fraudulent:
        return round2(min(15.0, max(2.0, config.fraud_reward)))
    x = clamp01(overall)
    knots = config.knots
    y = knots[-1][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(knots):
        if x <= x1:
            y = y0 + (y1 - y0) * ((x - x0) / (x1 - x0))
            break
    return round2(min(15.0, max(2.0, y)))
