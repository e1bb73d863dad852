"""Metrics through ``ray.util.metrics``: the specs in :mod:`engine.metrics` made real.

Shown in the Ray dashboard's Metrics view and the Prometheus export of every
node. Tags are checked against the spec so no per-call label can slip in.
"""

from __future__ import annotations

from typing import Any

from engine import metrics as specs


class RayMetrics:
    """:class:`engine.dispatch.ports.MetricsSink` backed by ray.util.metrics (created lazily, per process)."""

    def __init__(self) -> None:
        self._made: dict[str, Any] = {}
        self._by_name = {s.name: s for s in specs.ALL}

    def _metric(self, name: str) -> tuple[specs.MetricSpec, Any]:
        spec = self._by_name[name]
        metric = self._made.get(name)
        if metric is None:
            from ray.util import metrics

            if spec.kind is specs.Kind.GAUGE:
                metric = metrics.Gauge(spec.name, spec.description, spec.tag_keys)
            elif spec.kind is specs.Kind.COUNTER:
                metric = metrics.Counter(spec.name, spec.description, spec.tag_keys)
            else:
                metric = metrics.Histogram(spec.name, spec.description, list(spec.boundaries), spec.tag_keys)
            self._made[name] = metric
        return spec, metric

    def gauge(self, name: str, value: float, tags: dict[str, str] | None = None) -> None:
        spec, metric = self._metric(name)
        metric.set(value, tags=specs.check_tags(spec, tags or {}))

    def count(self, name: str, value: float = 1.0, tags: dict[str, str] | None = None) -> None:
        spec, metric = self._metric(name)
        metric.inc(value, tags=specs.check_tags(spec, tags or {}))

    def observe(self, name: str, value: float, tags: dict[str, str] | None = None) -> None:
        spec, metric = self._metric(name)
        metric.observe(value, tags=specs.check_tags(spec, tags or {}))
