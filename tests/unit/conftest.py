"""Unit tests never start Ray or a database: starting either here is an error."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        import ray
    except ImportError:  # pragma: no cover
        return

    def forbidden(*args: object, **kwargs: object) -> None:
        raise RuntimeError("tests/unit must not start Ray; move this test to tests/integration")

    monkeypatch.setattr(ray, "init", forbidden)
