"""Who is acting in a transaction; the RLS policies read it from custom settings."""

from __future__ import annotations

import dataclasses
import uuid

from engine.domain import Role


@dataclasses.dataclass(frozen=True)
class Principal:
    """The actor of one transaction: the engine itself, an admin, or a store owner."""

    user_id: uuid.UUID | None
    role: Role
    store_ids: frozenset[uuid.UUID] = frozenset()

    @classmethod
    def service(cls) -> Principal:
        return cls(None, Role.SERVICE)

    @classmethod
    def admin(cls, user_id: uuid.UUID | None) -> Principal:
        return cls(user_id, Role.ADMIN)

    @classmethod
    def store_owner(
        cls, user_id: uuid.UUID | None, store_ids: frozenset[uuid.UUID] | set[uuid.UUID]
    ) -> Principal:
        return cls(user_id, Role.STORE_OWNER, frozenset(store_ids))

    @property
    def privileged(self) -> bool:
        return self.role in (Role.ADMIN, Role.SERVICE)

    def settings(self) -> dict[str, str]:
        """Values for the ``callengine.*`` settings the policies read."""
        return {
            "role": self.role.value,
            "user_id": str(self.user_id) if self.user_id else "",
            "store_ids": "{" + ",".join(str(s) for s in sorted(self.store_ids)) + "}",
        }
