"""Online key rotation: re-encrypt every field not under the active key, in batches.

Each batch is its own short transaction (``FOR UPDATE SKIP LOCKED``), so the
engine keeps running; rows written meanwhile already use the active key.
Readers decrypt either key while rotation runs (the key id travels with each
ciphertext). Retire an old key only after rotation reports zero remaining.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import text

from storage.crypto import aad
from storage.database import Database
from storage.principal import Principal
from storage.types import ERASED

ENCRYPTED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("customer_verifications", "phone_number"),
    ("feedback_call_sessions", "phone_number"),
    ("conversation_transcripts", "content"),
    ("quality_assessments", "analysis_summary"),
    ("fraud_detection_results", "decision_reasoning"),
)
BOUND_TO: dict[tuple[str, str], tuple[str, str, str]] = {
    # a session's number is its verification's ciphertext (copied by dispatch_session)
    ("feedback_call_sessions", "phone_number"): (
        "customer_verifications",
        "phone_number",
        "customer_verification_id",
    ),
}
"""(table, column) → (aad table, aad column, row-id column) where the associated data is another row's."""

Progress = Callable[[str, int, int], None]
"""progress(table.column, re-encrypted so far, remaining at start)."""


async def remaining(db: Database) -> dict[str, int]:
    """Ciphertexts per column not under the active key."""
    prefix = db.keyring.active_key_id + "$"
    out: dict[str, int] = {}
    async with db.transaction(Principal.service()) as tx:
        for table, column in ENCRYPTED_COLUMNS:
            stmt = text(
                f"SELECT count(*) FROM {table} WHERE {column} IS NOT NULL AND {column} <> :erased "
                f"AND left({column}, :n) <> :prefix"
            )
            n = (
                await tx.session.execute(stmt, {"erased": ERASED, "n": len(prefix), "prefix": prefix})
            ).scalar_one()
            out[f"{table}.{column}"] = int(n)
    return out


async def rotate_keys(
    db: Database, batch_size: int = 1000, progress: Progress | None = None
) -> dict[str, int]:
    """Re-encrypt under the active key; returns rows re-encrypted per column."""
    prefix = db.keyring.active_key_id + "$"
    todo = await remaining(db)
    done: dict[str, int] = {}
    for table, column in ENCRYPTED_COLUMNS:
        name = f"{table}.{column}"
        done[name] = 0
        aad_table, aad_column, row_column = BOUND_TO.get((table, column), (table, column, "id"))
        pick = text(
            f"SELECT id, {row_column}, {column} FROM {table} WHERE {column} IS NOT NULL AND {column} <> :erased "
            f"AND left({column}, :n) <> :prefix LIMIT :limit FOR UPDATE SKIP LOCKED"
        )
        put = text(f"UPDATE {table} SET {column} = :value WHERE id = :id AND {column} = :old")
        while True:
            async with db.transaction(Principal.service()) as tx:
                params = {"erased": ERASED, "n": len(prefix), "prefix": prefix, "limit": batch_size}
                rows = (await tx.session.execute(pick, params)).all()
                if not rows:
                    break
                updates = []
                for row_id, bound_id, stored in rows:
                    where = aad(aad_table, aad_column, uuid.UUID(str(bound_id)))
                    plain = db.keyring.decrypt(stored, where)
                    updates.append({"id": row_id, "old": stored, "value": db.keyring.encrypt(plain, where)})
                await tx.session.execute(put, updates)
                tx.audit("rotate", table, None, f"{column}: {len(updates)} rows")
            done[name] += len(updates)
            if progress is not None:
                progress(name, done[name], todo[name])
    return done
