"""Token minting/verification and the caller's store rights (no server, no DB)."""

from __future__ import annotations

import dataclasses
import time
import uuid
from pathlib import Path

import jwt
import pytest

from engine.api.auth import Caller, TokenAuthority, authority_from_settings, resolve_secret
from engine.config import ApiSettings, DatabaseSettings, Secret, Settings
from engine.domain import Role
from engine.errors import AuthenticationError, ConfigError, PermissionDeniedError

SECRET = "s" * 40
STORE_A = uuid.UUID("00000000-0000-4000-8000-00000000000a")
STORE_B = uuid.UUID("00000000-0000-4000-8000-00000000000b")


@pytest.fixture
def authority() -> TokenAuthority:
    return TokenAuthority(SECRET, "callengine")


def bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


def test_round_trip(authority: TokenAuthority) -> None:
    token = authority.mint("owner-1", Role.STORE_OWNER, [STORE_A])
    caller = authority.caller_from_metadata(bearer(token))
    assert caller == Caller("owner-1", Role.STORE_OWNER, frozenset({STORE_A}))


@pytest.mark.parametrize(
    "metadata",
    [
        None,
        [],
        [("authorization", "")],
        [("authorization", "Basic abc")],
        [("authorization", "Bearer ")],
        [("authorization", "Bearer not.a.jwt")],
        [("other", "Bearer x")],
    ],
)
def test_missing_or_malformed_is_unauthenticated(authority: TokenAuthority, metadata: object) -> None:
    with pytest.raises(AuthenticationError):
        authority.caller_from_metadata(metadata)  # type: ignore[arg-type]


def test_bad_signature(authority: TokenAuthority) -> None:
    forged = TokenAuthority("x" * 40, "callengine").mint("admin", Role.ADMIN)
    with pytest.raises(AuthenticationError, match="InvalidSignature"):
        authority.caller_from_metadata(bearer(forged))


def test_expired(authority: TokenAuthority) -> None:
    token = authority.mint("svc", Role.SERVICE, ttl_seconds=60, now=time.time() - 3600)
    with pytest.raises(AuthenticationError, match="expired"):
        authority.verify(token)


def test_wrong_issuer(authority: TokenAuthority) -> None:
    token = TokenAuthority(SECRET, "someone-else").mint("svc", Role.SERVICE)
    with pytest.raises(AuthenticationError):
        authority.verify(token)


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "u", "role": "root"},
        {"sub": "u", "role": "admin", "store_ids": "not-a-list"},
        {"sub": "u", "role": "admin", "store_ids": ["nope"]},
        {"sub": "", "role": "admin"},
        {"role": "admin"},
    ],
)
def test_bad_claims(authority: TokenAuthority, claims: dict[str, object]) -> None:
    full = {"iss": "callengine", "exp": int(time.time()) + 60, **claims}
    with pytest.raises(AuthenticationError):
        authority.verify(jwt.encode(full, SECRET, algorithm="HS256"))


def test_none_algorithm_rejected(authority: TokenAuthority) -> None:
    token = jwt.encode(
        {"sub": "u", "role": "admin", "iss": "callengine", "exp": 2**31}, None, algorithm="none"
    )
    with pytest.raises(AuthenticationError):
        authority.verify(token)


def test_store_rights() -> None:
    owner = Caller("o", Role.STORE_OWNER, frozenset({STORE_A}))
    owner.require_store(STORE_A)
    with pytest.raises(PermissionDeniedError):
        owner.require_store(STORE_B)
    for role in (Role.ADMIN, Role.SERVICE):
        Caller("x", role).require_store(STORE_B)
    with pytest.raises(PermissionDeniedError):
        owner.require_role(Role.ADMIN)
    Caller("a", Role.ADMIN).require_role(Role.ADMIN)


def test_short_secret_rejected() -> None:
    with pytest.raises(ConfigError):
        TokenAuthority("short", "callengine")


def test_dev_secret_generated_once_and_reused(tmp_path: Path) -> None:
    settings = Settings(database=DatabaseSettings(data_dir=tmp_path / "data"))
    first = resolve_secret(settings)
    assert first == resolve_secret(settings)
    assert (tmp_path / "data" / "jwt_secret").stat().st_mode & 0o077 == 0
    token = authority_from_settings(settings).mint("svc", Role.SERVICE)
    assert authority_from_settings(settings).verify(token).role is Role.SERVICE


def test_configured_secret_wins(tmp_path: Path) -> None:
    settings = Settings(
        database=DatabaseSettings(data_dir=tmp_path),
        api=dataclasses.replace(ApiSettings(), jwt_secret=Secret(SECRET)),
    )
    assert resolve_secret(settings) == SECRET
    assert not (tmp_path / "jwt_secret").exists()


def test_audience_is_checked() -> None:

    ours = TokenAuthority(SECRET, "callengine", audience="callengine")
    other = TokenAuthority(SECRET, "callengine", audience="another-service")
    with pytest.raises(AuthenticationError):
        ours.verify(other.mint("svc", Role.SERVICE))
    now = int(time.time())
    no_aud = jwt.encode(
        {"sub": "x", "role": "service", "iss": "callengine", "iat": now, "exp": now + 60}, SECRET, "HS256"
    )
    with pytest.raises(AuthenticationError):
        ours.verify(no_aud)


def test_maximum_lifetime_on_mint_and_verify() -> None:

    authority = TokenAuthority(SECRET, "callengine", max_ttl_seconds=3600)
    with pytest.raises(ConfigError):
        authority.mint("svc", Role.SERVICE, ttl_seconds=3601)
    now = int(time.time())
    long_lived = jwt.encode(
        {
            "sub": "x",
            "role": "service",
            "iss": "callengine",
            "aud": "callengine",
            "iat": now,
            "exp": now + 7200,
        },
        SECRET,
        "HS256",
    )
    with pytest.raises(AuthenticationError, match="lifetime"):
        authority.verify(long_lived)
    assert authority.verify(authority.mint("svc", Role.SERVICE, ttl_seconds=3600)).subject == "svc"


def test_one_shared_secret_required_unless_purely_local(tmp_path: Path) -> None:
    local = Settings(database=DatabaseSettings(data_dir=tmp_path))
    assert authority_from_settings(local).verify(authority_from_settings(local).mint("a", Role.ADMIN))
    for clustered in (
        dataclasses.replace(local, ray_address="10.0.0.1:6379"),
        dataclasses.replace(local, database=dataclasses.replace(local.database, url="postgresql://u@h/db")),
    ):
        with pytest.raises(ConfigError, match="CALLENGINE_JWT_SECRET"):
            authority_from_settings(clustered)


def test_a_verified_token_is_reused_until_it_expires_then_refused(
    authority: TokenAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = authority.mint("svc", Role.SERVICE, ttl_seconds=60)
    first = authority.verify(token)
    assert authority.verify(token) is first  # the cached verdict
    import engine.api.auth as auth_module

    later = time.time() + 3600
    monkeypatch.setattr(auth_module.time, "time", lambda: later)
    with pytest.raises(AuthenticationError, match="expired"):
        authority.verify(token)
    # a forged variant of a cached token is not a cache hit
    with pytest.raises(AuthenticationError):
        authority.verify(token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
