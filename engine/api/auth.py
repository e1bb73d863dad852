"""Bearer-token authentication for the front door: JWT (HS256) minting and checking.

A token carries ``sub`` (who), ``role`` (admin | store_owner | service),
``store_ids`` (the stores a store owner may reach), ``iat``, ``exp``, ``iss`` and
``aud``. Verification checks the signature, issuer, audience and expiry, and
refuses a lifetime (``exp - iat``) above ``CALLENGINE_JWT_MAX_TTL_SECONDS``;
minting refuses one too. The key is ``ApiSettings.jwt_secret``, required
whenever the engine is not purely local (a Ray cluster or an external database:
nodes must agree on one key). Only a purely local engine generates a random key
once into its data directory, so ``callengine token`` and ``callengine serve`` on
one machine agree without set-up.
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
DEFAULT_AUDIENCE = "callengine"
DEFAULT_MAX_TTL_SECONDS = 86400.0
CLOCK_SKEW_SECONDS = 30
"""Leeway for ``exp``/``iat`` between the minting machine's clock and ours."""
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


VERIFIED_CACHE_SIZE = 1024


class TokenAuthority:
    """Mints and verifies bearer tokens with one HS256 key."""

    def __init__(
        self,
        secret: str,
        issuer: str,
        *,
        audience: str = DEFAULT_AUDIENCE,
        max_ttl_seconds: float = DEFAULT_MAX_TTL_SECONDS,
    ) -> None:
        if len(secret.encode()) < _MIN_SECRET_BYTES:
            raise ConfigError(f"CALLENGINE_JWT_SECRET: needs at least {_MIN_SECRET_BYTES} bytes")
        self._secret = secret
        self.issuer = issuer
        self.audience = audience
        self.max_ttl_seconds = max_ttl_seconds
        self._verified: dict[str, tuple[Caller, float]] = {}
        """token → (caller, expiry): a backend sends the same token with every request, and
        checking it (decode, HMAC, claims) is ~40 µs; a verified one is reused until it expires."""

    def mint(
        self,
        subject: str,
        role: Role,
        store_ids: Iterable[uuid.UUID] = (),
        *,
        ttl_seconds: float = 3600.0,
        now: float | None = None,
    ) -> str:
        if not 0 < ttl_seconds <= self.max_ttl_seconds:
            raise ConfigError(
                f"token lifetime must be within (0, {self.max_ttl_seconds:g}] s (CALLENGINE_JWT_MAX_TTL_SECONDS)"
            )
        issued = time.time() if now is None else now
        claims = {
            "sub": subject,
            "role": role.value,
            "store_ids": sorted(str(s) for s in store_ids),
            "iss": self.issuer,
            "aud": self.audience,
            "iat": int(issued),
            "exp": int(issued + ttl_seconds),
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str, *, now: float | None = None) -> Caller:
        """Check signature, issuer, audience, expiry and lifetime; AuthenticationError on any problem."""
        if now is None:
            hit = self._verified.get(token)
            if hit is not None:
                if time.time() <= hit[1] + CLOCK_SKEW_SECONDS:
                    return hit[0]
                del self._verified[token]
                raise AuthenticationError("token expired")
        caller, expires = self._verify(token, now)
        if now is None:
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.clear()  # bounded; a handful of live tokens is the normal case
            self._verified[token] = (caller, expires)
        return caller

    def _verify(self, token: str, now: float | None) -> tuple[Caller, float]:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                audience=self.audience,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iat", "sub", "iss", "aud"], "verify_exp": now is None},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthenticationError("token expired") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthenticationError(f"invalid token: {type(exc).__name__}") from exc
        issued, expires = claims.get("iat"), claims.get("exp")
        if not isinstance(issued, int | float) or not isinstance(expires, int | float):
            raise AuthenticationError("invalid token: iat and exp must be numbers")
        if expires - issued > self.max_ttl_seconds:
            raise AuthenticationError("invalid token: lifetime above the maximum")
        if now is not None and expires + CLOCK_SKEW_SECONDS < now:
            raise AuthenticationError("token expired")
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
        return Caller(subject=subject, role=role, store_ids=store_ids), float(expires)

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
    """The configured JWT key; a purely local engine may use the key kept in its data directory."""
    configured = settings.api.jwt_secret.get()
    if configured:
        return configured
    if not settings.purely_local:
        raise ConfigError(
            "CALLENGINE_JWT_SECRET is required with RAY_ADDRESS or an external database: "
            "every node must verify tokens with the same key"
        )
    return _dev_secret(settings.database.data_dir / DEV_SECRET_FILE)


def authority_from_settings(settings: Settings) -> TokenAuthority:
    api = settings.api
    return TokenAuthority(
        resolve_secret(settings),
        api.jwt_issuer,
        audience=api.jwt_audience,
        max_ttl_seconds=api.jwt_max_ttl_seconds,
    )


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
