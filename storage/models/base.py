"""Declarative base and shared column helpers."""

from __future__ import annotations

from sqlalchemy import MetaData, Table, text
from sqlalchemy.orm import DeclarativeBase

# NOW() in UTC for the seed's TIMESTAMP (without time zone) columns.
UTC_NOW = text("(now() AT TIME ZONE 'utc')")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def in_list(column: str, values: object) -> str:
    """SQL for ``column IN ('a', 'b')`` from an enum (values are our own constants)."""
    items = ", ".join(f"'{v}'" for v in values)  # type: ignore[attr-defined]
    return f"{column} IN ({items})"


def between(column: str, low: str, high: str) -> str:
    return f"{column} IS NULL OR ({column} >= {low} AND {column} <= {high})"


def table_of(model: type[Base]) -> Table:
    """The Core table of a model, typed (``__table__`` is typed as FromClause)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table
