"""Driver errors → engine errors, without personal data in the message.

PostgreSQL's error DETAIL repeats offending key values (which may be a blind
index or a phone), so only the constraint name and SQLSTATE are used.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from engine.errors import (
    CallEngineError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    StorageError,
    UnavailableError,
    ValidationError,
)


@contextmanager
def translated() -> Iterator[None]:
    """For raw-cursor code (psycopg under SQLAlchemy): driver errors leave as engine errors too."""
    try:
        yield
    except psycopg.Error as exc:
        raise translate(exc) from exc


def translate(exc: SQLAlchemyError | psycopg.Error) -> CallEngineError:
    orig = exc if isinstance(exc, psycopg.Error) else getattr(exc, "orig", None)
    if isinstance(orig, CallEngineError):  # raised by a column type's bind/result processor
        return orig
    sqlstate = getattr(orig, "sqlstate", None) or ""
    diag = getattr(orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None) or ""
    table = getattr(diag, "table_name", None) or ""
    if sqlstate == "23514":  # check_violation: ck_<table>_<column>
        column = constraint.removeprefix(f"ck_{table}_") if table else constraint
        return ValidationError(column or "value", f"violates constraint {constraint or 'check'}")
    if sqlstate == "23503":  # foreign_key_violation
        return NotFoundError(f"referenced record does not exist ({constraint or 'foreign key'})")
    if sqlstate == "23505":  # unique_violation
        return ConflictError(f"duplicate record ({constraint or 'unique'})")
    if sqlstate == "23502":  # not_null_violation
        column = getattr(diag, "column_name", None) or "value"
        return ValidationError(column, "is required")
    if sqlstate in ("22001", "22003", "22007", "22008", "22P02"):
        return ValidationError("value", f"invalid value for the column type (SQLSTATE {sqlstate})")
    if sqlstate == "42501":  # insufficient_privilege (incl. RLS WITH CHECK)
        return PermissionDeniedError("not permitted for this principal")
    if sqlstate in ("40001", "40P01", "55P03", "57014"):
        return ConflictError(f"concurrent update, retry (SQLSTATE {sqlstate})", retryable=True)
    if sqlstate.startswith("08") or sqlstate in ("57P01", "57P02", "57P03", "53300"):
        return UnavailableError(f"database unavailable (SQLSTATE {sqlstate})")
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return UnavailableError("database connection lost")
    if isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError):
        return UnavailableError(f"database unavailable ({type(orig).__name__})")
    if orig is None and not isinstance(exc, DBAPIError):
        return StorageError(f"database error: {type(exc).__name__}")
    return StorageError(f"database error (SQLSTATE {sqlstate or 'unknown'})")
