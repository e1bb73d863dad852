"""Alembic revisions: one linear chain (a test fails on two heads)."""
