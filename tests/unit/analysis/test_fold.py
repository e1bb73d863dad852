"""Folding the fraud verdict into an assessment: nothing found leaves the assessed scores exactly as
they were; a finding lowers legitimacy and the reward; a review that clears it restores them."""

from __future__ import annotations

import uuid

from engine.analysis.config import DEFAULT_CONFIG
from engine.analysis.scoring import overall_score, reward_percentage
from engine.analysis.service import _fold, _StoredVerdict
from storage import records as rec

# As the assessor stores them: the parts rounded, the reward from the unrounded overall.
PRE = {"legitimacy_score": 0.97, "overall_quality_score": 0.74, "reward_percentage": 11.35}


def _assessed() -> rec.Assessment:
    return rec.Assessment(
        call_session_id=uuid.uuid4(),
        legitimacy_score=0.97,
        depth_score=0.7,
        usefulness_score=0.84,
        overall_quality_score=0.74,
        reward_percentage=11.35,
        analysis_metadata={"status": "scored", "pre_fraud": dict(PRE)},
    )


CLEAN = _StoredVerdict(combined=0.0, any_suspicious=False, fraudulent=False, reasons=[])


def test_recomputing_from_the_rounded_parts_would_move_the_reward() -> None:
    """The premise of the first test: the fold must not recompute when nothing was found."""
    recomputed = overall_score(0.97, 0.7, 0.84, DEFAULT_CONFIG.scoring)
    assert reward_percentage(recomputed, DEFAULT_CONFIG.reward) != PRE["reward_percentage"]


def test_a_clean_verdict_leaves_the_assessed_scores_exactly() -> None:
    folded = _fold(_assessed(), CLEAN, DEFAULT_CONFIG)
    assert (folded.legitimacy_score, folded.overall_quality_score, folded.reward_percentage) == (
        0.97,
        0.74,
        11.35,
    )
    assert folded.is_fraudulent is False and folded.fraud_reasons is None
    assert folded.analysis_metadata["fraud_combined_confidence"] == 0.0  # type: ignore[index,call-overload]


def test_a_finding_lowers_legitimacy_and_reward_and_a_cleared_review_restores_them() -> None:
    reasons = [{"check_type": "content_duplication", "confidence": 0.6}]
    suspicious = _StoredVerdict(combined=0.6, any_suspicious=True, fraudulent=False, reasons=reasons)
    lowered = _fold(_assessed(), suspicious, DEFAULT_CONFIG)
    assert lowered.legitimacy_score == 0.4
    assert lowered.overall_quality_score < 0.74 and lowered.reward_percentage < 11.35
    assert lowered.is_fraudulent is False and lowered.fraud_reasons == reasons

    fraud = _StoredVerdict(combined=0.9, any_suspicious=True, fraudulent=True, reasons=reasons)
    withheld = _fold(lowered, fraud, DEFAULT_CONFIG)
    assert withheld.is_fraudulent is True and withheld.reward_percentage == 2.0

    cleared = _fold(withheld, CLEAN, DEFAULT_CONFIG)  # an admin marked the finding a false positive
    assert (cleared.legitimacy_score, cleared.overall_quality_score, cleared.reward_percentage) == (
        0.97,
        0.74,
        11.35,
    )
    assert cleared.is_fraudulent is False and cleared.fraud_reasons is None
