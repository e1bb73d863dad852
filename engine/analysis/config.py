"""Every threshold and weight of the post-call analysis, in one documented object.

Defaults live here; a TOML file can override any field (``[scoring]``,
``[reward]``, ``[fraud]``, ``[llm]``, ``[report]`` tables, same field names).
``docs/analysis.md`` explains the formulas these numbers feed.
"""

from __future__ import annotations

import dataclasses
import itertools
import tomllib
from pathlib import Path
from typing import Any

from engine.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class ScoringConfig:
    llm_weight: float = 0.6
    """Share of the LLM's score in each blended score (the rest is the deterministic signal)."""
    depth_weight: float = 0.55
    """overall = legitimacy × (depth_weight·depth + usefulness_weight·usefulness)."""
    usefulness_weight: float = 0.45
    """See ``depth_weight``; the two must sum to 1."""
    target_answer_words: float = 20.0
    """Mean customer words per answer at which the length signal saturates."""
    target_specific_mentions: float = 4.0
    """Distinct departments/products/campaigns/times named at which specificity saturates."""
    target_actionable_items: float = 3.0
    """Actionable items at which the usefulness signal saturates."""
    min_answer_words: int = 3
    """A question counts as answered when the next customer turn has at least this many words."""
    generic_penalty: float = 0.6
    """How much the share of generic answers lowers rule-based legitimacy."""


@dataclasses.dataclass(frozen=True)
class RewardConfig:
    knots: tuple[tuple[float, float], ...] = (
        (0.0, 2.0),
        (0.2, 2.0),
        (0.4, 5.0),
        (0.6, 8.5),
        (0.8, 12.5),
        (1.0, 15.0),
    )
    """Piecewise-linear map overall score → reward %; x and y both non-decreasing, y within 2..15."""
    fraud_reward: float = 2.0
    """Reward when the call is judged fraudulent (the floor)."""


@dataclasses.dataclass(frozen=True)
class FraudConfig:
    suspicious_threshold: float = 0.5
    """A check with confidence ≥ this is ``is_suspicious``."""
    fraud_threshold: float = 0.8
    """Combined confidence ≥ this → ``is_fraudulent`` without review."""
    review_low: float = 0.5
    """Combined confidence in [review_low, fraud_threshold) → manual review (the grey zone)."""
    max_verification_gap_hours: float = 72.0
    """Call started more than this after the purchase → timing indicator."""
    min_call_seconds: float = 25.0
    """A completed call shorter than this is implausibly short."""
    opening_grace_minutes: float = 10.0
    """Purchases this close outside the opening hours are tolerated (clock skew, last customers)."""
    phone_window_days: float = 7.0
    """Window for the 'same phone too often' and 'across stores' pattern rules."""
    max_calls_per_phone: int = 3
    """More sessions than this for one phone (blind index) in the window is suspicious."""
    max_stores_per_phone: int = 2
    """More distinct stores than this for one phone in the window is suspicious."""
    duplicate_jaccard: float = 0.7
    """Estimated Jaccard similarity of customer text (MinHash) at which two calls are near-duplicates."""
    shingle_words: int = 3
    """Word shingle size for near-duplicate detection."""
    minhash_permutations: int = 64
    """MinHash signature length."""
    min_duplicate_words: int = 12
    """Transcripts with fewer customer words are too short to call near-duplicates."""
    max_duplicate_candidates: int = 2000
    """Most recent pattern rows (any store, inside the phone window) compared for near-duplicates."""
    burst_window_minutes: float = 10.0
    """Window for the per-store burst rule."""
    burst_max_sessions: int = 20
    """More sessions than this for one store inside the burst window is suspicious."""
    generic_answer_ratio: float = 0.6
    """Share of generic/evasive answers from which the content rule fires."""
    llm_content_weight: float = 0.5
    """Content check: confidence = max(rules, (1 − w)·rules + w·p_llm), p_llm the model's fraud probability."""
    # Confidence of each indicator; a check's confidence is the noisy-OR 1 − Π(1 − c) of its indicators,
    # and the combined confidence of a call the noisy-OR of its suspicious checks.
    w_closed_day: float = 0.9
    """Purchase on a day the store is closed."""
    w_outside_hours: float = 0.85
    """Purchase outside the opening hours (beyond the grace)."""
    w_call_before_purchase: float = 0.7
    """The call started before the purchase it is about."""
    w_long_gap: float = 0.4
    """Call long after the purchase (``max_verification_gap_hours``)."""
    w_short_call: float = 0.5
    """Completed call shorter than ``min_call_seconds``."""
    w_generic: float = 0.55
    """Generic/evasive answers at ``generic_answer_ratio``; rises to +0.35 at ratio 1."""
    w_foreign_department: float = 0.6
    """Customer describes a common department the store's profile does not list."""
    w_absent_department: float = 0.85
    """Customer describes a department baseline_facts says the store does not have."""
    w_fact_contradiction: float = 0.7
    """Customer says a phrase that contradicts a baseline fact."""
    w_phone_many_stores: float = 0.85
    """Same phone (blind index) at more than ``max_stores_per_phone`` stores in the window."""
    w_phone_too_often: float = 0.6
    """Same phone more than ``max_calls_per_phone`` times in the window."""
    w_duplicate: float = 0.9
    """Near-duplicate of another caller's transcript at the same store."""
    w_duplicate_other_store: float = 0.45
    """Near-duplicate of a caller at another store: recorded, below the suspicious threshold alone
    (chains sharing phrasing templates; a script sold for one store is the common fraud)."""
    w_burst: float = 0.5
    """Store burst: more than ``burst_max_sessions`` sessions inside the burst window."""


@dataclasses.dataclass(frozen=True)
class LLMConfig:
    attempts: int = 3
    """LLM attempts before falling back to rules only."""
    backoff_seconds: tuple[float, ...] = (0.5, 2.0)
    """Delay before attempt 2, 3, … (the last value repeats)."""
    timeout_seconds: float = 30.0
    """Per-request timeout given to the SDK."""
    max_transcript_chars: int = 6000
    """Transcript text sent to the model is cut to this length (the tail is dropped)."""


@dataclasses.dataclass(frozen=True)
class ReportConfig:
    history_weeks: int = 12
    """Weeks shown in the trend charts (this one included) and used for the predictions."""
    min_theme_mentions: int = 2
    """A theme must be backed by at least this many calls to be reported."""
    max_themes: int = 8
    """Positive trends / negative issues kept per report."""
    new_issue_min_mentions: int = 2
    """A negative issue is 'new' if absent last week and backed by at least this many calls."""


@dataclasses.dataclass(frozen=True)
class AnalysisConfig:
    scoring: ScoringConfig = dataclasses.field(default_factory=ScoringConfig)
    reward: RewardConfig = dataclasses.field(default_factory=RewardConfig)
    fraud: FraudConfig = dataclasses.field(default_factory=FraudConfig)
    llm: LLMConfig = dataclasses.field(default_factory=LLMConfig)
    report: ReportConfig = dataclasses.field(default_factory=ReportConfig)

    @classmethod
    def from_toml(cls, path: str | Path) -> AnalysisConfig:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"analysis config {path}: cannot read TOML: {exc}") from exc
        return cls.from_mapping(data)

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> AnalysisConfig:
        base = cls()
        sections: dict[str, Any] = {}
        for section, values in data.items():
            if section not in _SECTIONS:
                raise ConfigError(f"analysis config: unknown section [{section}]")
            if not isinstance(values, dict):
                raise ConfigError(f"analysis config: [{section}] must be a table")
            current = getattr(base, section)
            known = {f.name: f for f in dataclasses.fields(current)}
            converted: dict[str, Any] = {}
            for key, raw in values.items():
                if key not in known:
                    raise ConfigError(f"analysis config: unknown field {section}.{key}")
                converted[key] = _convert(f"{section}.{key}", raw, getattr(current, key))
            sections[section] = dataclasses.replace(current, **converted)
        config = dataclasses.replace(base, **sections)
        config.validate()
        return config

    def validate(self) -> None:
        s = self.scoring
        if abs(s.depth_weight + s.usefulness_weight - 1.0) > 1e-9:
            raise ConfigError("scoring.depth_weight + scoring.usefulness_weight must be 1")
        if not 0.0 <= s.llm_weight <= 1.0:
            raise ConfigError("scoring.llm_weight must be within 0..1")
        knots = self.reward.knots
        if len(knots) < 2 or knots[0][0] != 0.0 or knots[-1][0] != 1.0:
            raise ConfigError("reward.knots must start at x=0 and end at x=1")
        for (x0, y0), (x1, y1) in itertools.pairwise(knots):
            if x1 <= x0 or y1 < y0:
                raise ConfigError("reward.knots must have increasing x and non-decreasing y")
        if knots[0][1] < 2.0 or knots[-1][1] > 15.0:
            raise ConfigError("reward.knots must stay within 2..15")
        f = self.fraud
        if not 0 < f.review_low <= f.fraud_threshold <= 1:
            raise ConfigError("fraud: need 0 < review_low <= fraud_threshold <= 1")
        if self.llm.attempts < 1:
            raise ConfigError("llm.attempts must be >= 1")


_SECTIONS = ("scoring", "reward", "fraud", "llm", "report")


def _convert(name: str, raw: Any, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if not isinstance(raw, bool):
                raise TypeError("expected a boolean")
            return raw
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, tuple):
            return tuple(
                tuple(float(v) for v in item) if isinstance(item, list) else float(item) for item in raw
            )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"analysis config {name}: invalid value: {exc}") from exc
    return raw


DEFAULT_CONFIG = AnalysisConfig()


def load_config(path: str | None) -> AnalysisConfig:
    """The analysis configuration the runtime uses: ``path`` (TOML overrides) or the defaults."""
    return AnalysisConfig.from_toml(path) if path else DEFAULT_CONFIG
