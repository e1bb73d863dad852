"""Shared fixtures. Each module under tests/fixtures/ belongs to one component.

Fixtures start things (PostgreSQL, Ray, emulators) only when a test asks for
them, so tests/unit stays free of both.
"""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.emulators",
    "tests.fixtures.ray_cluster",
    "tests.fixtures.browser",
    "tests.fixtures.nginx",
]
