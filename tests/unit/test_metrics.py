from __future__ import annotations

import re

import pytest

from engine import metrics as m


def test_metric_names_are_prometheus_safe_and_unique() -> None:
    names = [s.name for s in m.ALL]
    assert len(set(names)) == len(names)
    for spec in m.ALL:
        assert re.fullmatch(r"callengine_[a-z_]+", spec.name)
        assert spec.description
        if spec.kind is m.Kind.COUNTER:
            assert spec.name.endswith("_total")
        if spec.kind is m.Kind.HISTOGRAM:
            assert list(spec.boundaries) == sorted(spec.boundaries) and spec.boundaries


def test_no_per_call_or_personal_labels() -> None:
    for spec in m.ALL:
        for key in spec.tag_keys:
            assert key in m.ALLOWED_TAG_KEYS, (spec.name, key)
            assert not any(word in key for word in m.FORBIDDEN_TAG_WORDS), (spec.name, key)


def test_issue_metrics_present() -> None:
    kinds = {s.name: s.kind for s in m.ALL}
    for needed in (
        m.ACTIVE_CALLS,
        m.FREE_SLOTS,
        m.QUEUE_DEPTH,
        m.DIALS,
        m.OUTCOMES,
        m.TURN_LATENCY,
        m.ANALYSES,
    ):
        assert needed.name in kinds
    assert m.OUTCOMES.tag_keys == ("status", "failure_reason")


def test_check_tags() -> None:
    assert m.check_tags(m.OUTCOMES, {"status": "failed", "failure_reason": "busy"})
    with pytest.raises(ValueError):
        m.check_tags(m.OUTCOMES, {"status": "failed", "session_id": "x"})
