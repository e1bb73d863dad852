"""Bearer-token authentication for the front door: JWT (HS256) minting and checking.

A token carries ``sub`` (who), ``role`` (admin | store_owner | service),
``store_ids`` (the stores a store owner may reach), ``exp`` and ``iss``. The
key is ``ApiSettings.jwt_secret``; with none configured (development) a random
key is generated once into the data directory and reused, so ``callengine
token`` and ``callengine serve`` on one machine agree without set-up.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

import jwt

from engine.config import Settings
from engine.domain import Role
from engine.errors import AuthenticationError, ConfigError, PermissionDeniedError

ALGORITHM = "HS256"
DEV_SECRET_FILE = "jwt_secret"
_MIN_SECRET_BYTES = 32


@dataclasses.dataclass(frozen=True)
class Caller:
    """The authenticated principal of one request."""

    subject: str
    role: Role
    store_ids: frozenset[uuid.UUID] = frozenset()

    @property
    def user_id(self) -> uuid.UUID | None:
        """The subject as a UUID when it is one (recorded as ``updated_by`` / ``reviewed_by``)."""
        try:
            return uuid.UUID(self.subject)
        except ValueError:
            return None

    def can_access_store(self, store_id: uuid.UUID) -> bool:
        return self.role in (Role.ADMIN, Role.SERVICE) or store_id in self.store_ids

    def require_store(self, store_id: uuid.UUID) -> None:
        """Raise PermissionDeniedError unless the caller may reach ``store_id``."""
        if not self.can_access_store(store_id):
            raise PermissionDeniedError(f"no access to store {store_id}")

    def require_role(self, *roles: Role) -> None:
        if self.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise PermissionDeniedError(f"requires role {allowed}; caller is {self.role.value}")


class TokenAuthority:
    """Mints and verifies bearer tokens with one HS256 key."""

    def __init__(self, secret: str, issuer: str) -> None:
        if len(secret.encode()) < _MIN_SECRET_BYTES:
            raise ConfigError(f"CALLENGINE_JWT_SECRET: needs at least {_MIN_SECRET_BYTES} bytes")
        self._secret = secret
        self.issuer = issuer

    def mint(
        self,
        subject: str,
        role: Role,
        store_ids: Iterable[uuid.UUID] = (),
        *,
        ttl_seconds: float = 3600.0,
        now: float | None = None,
    ) -> str:
        issued = time.time() if now is None else now
        claims = {
            "sub": subject,
            "role": role.value,
            "store_ids": sorted(str(s) for s in store_ids),
            "iss": self.issuer,
            "iat": int(issued),
            "exp": int(issued + ttl_seconds),
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Caller:
        """Check signature, issuer and expiry; raise AuthenticationError on any problem."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                options={"require": ["exp", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthenticationError("token expired") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthenticationError(f"invalid token: {type(exc).__name__}") from exc
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise AuthenticationError("invalid token: empty subject")
        try:
            role = Role(str(claims.get("role")))
        except ValueError as exc:
            raise AuthenticationError("invalid token: unknown role") from exc
        raw_stores = claims.get("store_ids", [])
        if not isinstance(raw_stores, list):
            raise AuthenticationError("invalid token: store_ids must be a list")
        try:
            store_ids = frozenset(uuid.UUID(str(s)) for s in raw_stores)
        except ValueError as exc:
            raise AuthenticationError("invalid token: store_ids must be UUIDs") from exc
        return Caller(subject=subject, role=role, store_ids=store_ids)

    def caller_from_metadata(self, metadata: Sequence[tuple[str, str | bytes]] | None) -> Caller:
        """Authenticate from gRPC invocation metadata (``authorization: Bearer <jwt>``)."""
        values = [v for k, v in (metadata or ()) if k.lower() == "authorization"]
        if not values:
            raise AuthenticationError("missing authorization metadata")
        if len(values) > 1:
            raise AuthenticationError("more than one authorization header")
        raw = values[0]
        header = raw.decode("latin-1") if isinstance(raw, bytes) else raw
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("authorization must be 'Bearer <token>'")
        return self.verify(token.strip())


def resolve_secret(settings: Settings) -> str:
    """The configured JWT key, or the development key kept in the data directory."""
    configured = settings.api.jwt_secret.get()
    if configured:
        return configured
    return _dev_secret(settings.database.data_dir / DEV_SECRET_FILE)


def authority_from_settings(settings: Settings) -> TokenAuthority:
    return TokenAuthority(resolve_secret(settings), settings.api.jwt_issuer)


def _dev_secret(path: Path) -> str:
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secrets.token_urlsafe(48))
    try:
        # link() is atomic and refuses to overwrite: when two processes race,
        # the first key wins and both read it; nobody sees a half-written file.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return _read_secret(path)


def _read_secret(path: Path) -> str:
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise ConfigError(f"{path}: empty JWT key file; delete it to regenerate")
    return value
