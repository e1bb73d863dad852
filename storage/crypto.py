"""Field encryption (AES-256-GCM with a key ring) and the phone blind index.

Stored form of an encrypted field (text, so the seed's TEXT columns keep their type)::

    <key id> "$" base64(nonce[12] || ciphertext || tag[16])

The associated data is ``table.column:row-id``, so a ciphertext copied to
another column or another row fails authentication instead of decrypting to
the wrong person's data. The key id travels with the ciphertext, so old keys
keep decrypting while new writes use the active key (online rotation).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import uuid
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engine.errors import ConfigError, CryptoError, ValidationError

_KEY_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_E164_RE = re.compile(r"^\+[1-9][0-9]{6,14}$")
_NONCE_BYTES = 12
_SEP = "$"


def normalize_phone(raw: str) -> str:
    """Return the E.164 form of ``raw`` or raise ValidationError("phone_number").

    Spaces, dashes, dots and parentheses are tolerated as separators; the result
    must be ``+`` followed by 7–15 digits with a non-zero country code. The
    rejected value is never echoed (it is personal data).
    """
    if not isinstance(raw, str):
        raise ValidationError("phone_number", "must be a string in E.164 form, e.g. +46701234567")
    cleaned = re.sub(r"[\s\-.()]", "", raw)
    if not _E164_RE.fullmatch(cleaned):
        raise ValidationError("phone_number", "must be in E.164 form: '+', country code, 7–15 digits")
    return cleaned


def aad(table: str, column: str, row_id: uuid.UUID) -> bytes:
    """Associated data binding a ciphertext to one place: ``table.column:`` + the row id's 16 bytes."""
    return f"{table}.{column}:".encode() + row_id.bytes


class KeyRing:
    """Key id → 32-byte AES key; one of them is active for new ciphertexts."""

    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        if not keys:
            raise ConfigError("CALLENGINE_ENCRYPTION_KEYS: at least one key is required")
        for kid, key in keys.items():
            if not _KEY_ID_RE.fullmatch(kid):
                raise ConfigError(f"CALLENGINE_ENCRYPTION_KEYS: invalid key id {kid!r} (use [A-Za-z0-9_-])")
            if len(key) != 32:
                raise ConfigError(f"CALLENGINE_ENCRYPTION_KEYS: key {kid!r} must be 32 bytes (AES-256)")
        if active_key_id not in keys:
            raise ConfigError(f"CALLENGINE_ACTIVE_KEY_ID: {active_key_id!r} is not in the key ring")
        self._aead = {kid: AESGCM(key) for kid, key in keys.items()}
        self.active_key_id = active_key_id

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._aead)

    @classmethod
    def parse(cls, spec: str, active_key_id: str = "") -> KeyRing:
        """Parse ``kid1:base64key,kid2:base64key``; the active key defaults to the last listed."""
        keys: dict[str, bytes] = {}
        last = ""
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            kid, sep, b64 = part.partition(":")
            if not sep:
                raise ConfigError("CALLENGINE_ENCRYPTION_KEYS: expected kid:base64key entries")
            try:
                keys[kid.strip()] = base64.b64decode(b64.strip(), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ConfigError(f"CALLENGINE_ENCRYPTION_KEYS: key {kid!r} is not valid base64") from exc
            last = kid.strip()
        return cls(keys, active_key_id or last)

    def encrypt(self, plaintext: str, associated: bytes) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead[self.active_key_id].encrypt(nonce, plaintext.encode(), associated)
        return self.active_key_id + _SEP + base64.b64encode(nonce + sealed).decode("ascii")

    def key_id_of(self, stored: str) -> str:
        kid, sep, _ = stored.partition(_SEP)
        if not sep:
            raise CryptoError("ciphertext is malformed (no key id)")
        return kid

    def decrypt(self, stored: str, associated: bytes) -> str:
        kid, sep, body = stored.partition(_SEP)
        if not sep:
            raise CryptoError("ciphertext is malformed (no key id)")
        aead = self._aead.get(kid)
        if aead is None:
            raise CryptoError(f"unknown encryption key id {kid!r}; add it to CALLENGINE_ENCRYPTION_KEYS")
        try:
            raw = base64.b64decode(body, validate=True)
            return aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], associated).decode()
        except (InvalidTag, binascii.Error, ValueError) as exc:
            where = associated.decode(errors="replace").split(":", 1)[0]
            raise CryptoError(
                f"ciphertext in {where} failed authentication (wrong key, tampered, or moved between rows)"
            ) from exc


class BlindIndex:
    """Keyed HMAC-SHA256 of the E.164 phone: equality lookups without decrypting."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ConfigError("CALLENGINE_BLIND_INDEX_KEY: must be at least 32 bytes")
        self._key = key

    @classmethod
    def parse(cls, b64: str) -> BlindIndex:
        try:
            return cls(base64.b64decode(b64, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise ConfigError("CALLENGINE_BLIND_INDEX_KEY: not valid base64") from exc

    def of(self, phone: str) -> str:
        """Hex digest of the normalized phone; raises ValidationError for non-E.164 input."""
        normalized = normalize_phone(phone)
        return hmac.new(self._key, normalized.encode(), hashlib.sha256).hexdigest()


def new_key_b64() -> str:
    return base64.b64encode(os.urandom(32)).decode("ascii")
