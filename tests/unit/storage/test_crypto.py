from __future__ import annotations

import base64
import os
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import ConfigError, CryptoError, ValidationError
from storage.crypto import BlindIndex, KeyRing, aad, normalize_phone

K1 = base64.b64encode(b"1" * 32).decode()
K2 = base64.b64encode(b"2" * 32).decode()


def test_normalize_accepts_separators_and_rejects_non_e164() -> None:
    assert normalize_phone("+46 70-123 45 67") == "+46701234567"
    assert normalize_phone("+1 (415) 555.0100") == "+14155550100"
    for bad in ("0701234567", "+0701234567", "+46", "46701234567", "+4670123456789012", "+46abc", ""):
        with pytest.raises(ValidationError) as info:
            normalize_phone(bad)
        assert info.value.field == "phone_number"
        assert bad not in str(info.value) or bad == ""  # the number is never echoed


def test_roundtrip_and_binding_to_place() -> None:
    ring = KeyRing.parse(f"a:{K1}")
    row = uuid.uuid4()
    stored = ring.encrypt("Hej då", aad("t", "c", row))
    assert stored.startswith("a$") and "Hej" not in stored
    assert ring.decrypt(stored, aad("t", "c", row)) == "Hej då"
    with pytest.raises(CryptoError):
        ring.decrypt(stored, aad("t", "c", uuid.uuid4()))  # another row
    with pytest.raises(CryptoError):
        ring.decrypt(stored, aad("t", "other", row))  # another column


def test_rotation_reads_old_key_writes_active() -> None:
    old = KeyRing.parse(f"a:{K1}")
    both = KeyRing.parse(f"a:{K1},b:{K2}")
    where = aad("t", "c", uuid.uuid4())
    stored = old.encrypt("x", where)
    assert both.active_key_id == "b"
    assert both.decrypt(stored, where) == "x"
    assert both.encrypt("x", where).startswith("b$")
    assert KeyRing.parse(f"a:{K1},b:{K2}", "a").active_key_id == "a"


def test_unknown_key_and_tampering() -> None:
    ring = KeyRing.parse(f"a:{K1}")
    where = aad("t", "c", uuid.uuid4())
    stored = KeyRing.parse(f"z:{K2}").encrypt("x", where)
    with pytest.raises(CryptoError, match="unknown encryption key id 'z'"):
        ring.decrypt(stored, where)
    good = ring.encrypt("x", where)
    raw = bytearray(base64.b64decode(good[2:]))
    raw[-1] ^= 1
    with pytest.raises(CryptoError):
        ring.decrypt("a$" + base64.b64encode(bytes(raw)).decode(), where)
    with pytest.raises(CryptoError):
        ring.decrypt("no-key-id", where)


@pytest.mark.parametrize(
    "spec,active",
    [
        ("", ""),
        ("a", ""),
        ("a:notbase64!", ""),
        (f"a:{base64.b64encode(b'short').decode()}", ""),
        (f"a:{K1}", "b"),
    ],
)
def test_bad_key_configuration(spec: str, active: str) -> None:
    with pytest.raises(ConfigError):
        KeyRing.parse(spec, active)


def test_blind_index_is_keyed_and_normalized() -> None:
    a = BlindIndex(os.urandom(32))
    b = BlindIndex(os.urandom(32))
    assert a.of("+46 70 123 45 67") == a.of("+46701234567")
    assert a.of("+46701234567") != b.of("+46701234567")
    assert len(a.of("+46701234567")) == 64
    with pytest.raises(ValidationError):
        a.of("0701234567")
    with pytest.raises(ConfigError):
        BlindIndex(b"short")


@given(st.text(max_size=300))
def test_any_text_roundtrips(text: str) -> None:
    ring = KeyRing.parse(f"a:{K1}")
    where = aad("conversation_transcripts", "content", uuid.UUID(int=7))
    assert ring.decrypt(ring.encrypt(text, where), where) == text


@given(st.text(alphabet="+0123456789 -().abc", max_size=24))
def test_phone_input_either_normalizes_or_is_a_validation_error(raw: str) -> None:
    try:
        normalized = normalize_phone(raw)
    except ValidationError as exc:
        assert exc.field == "phone_number"
        return
    assert normalized.startswith("+") and normalized[1:].isdigit() and 8 <= len(normalized) <= 16


def _error(kind: type[Exception], call: object, *args: object) -> str:
    with pytest.raises(kind) as info:
        call(*args)  # type: ignore[operator]
    return str(info.value)


def test_associated_data_is_table_column_and_the_row_id_bytes() -> None:
    row = uuid.UUID(int=0x0102)
    assert aad("sessions", "phone_number", row) == b"sessions.phone_number:" + row.bytes


def test_stored_form_is_key_id_dollar_base64_nonce_ciphertext_tag() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    where = aad("t", "c", uuid.UUID(int=1))
    ring = KeyRing.parse(f"a:{K1}")
    stored = ring.encrypt("hej", where)
    kid, _, body = stored.partition("$")
    raw = base64.b64decode(body)
    assert kid == "a" and ring.key_id_of(stored) == "a"
    assert len(raw) == 12 + len(b"hej") + 16
    assert AESGCM(b"1" * 32).decrypt(raw[:12], raw[12:], where) == b"hej"
    # A ciphertext written elsewhere in this form (12-byte nonce) decrypts.
    nonce = bytes(range(12))
    external = "a$" + base64.b64encode(nonce + AESGCM(b"1" * 32).encrypt(nonce, b"d\xc3\xa5", where)).decode()
    assert ring.decrypt(external, where) == "då"
    assert stored != ring.encrypt("hej", where)  # a fresh nonce each time


def test_crypto_errors_say_what_went_wrong() -> None:
    ring = KeyRing.parse(f"a:{K1}")
    where = aad("conversation_transcripts", "content", uuid.uuid4())
    assert _error(CryptoError, ring.decrypt, "nokeyid", where) == "ciphertext is malformed (no key id)"
    assert _error(CryptoError, ring.key_id_of, "nokeyid") == "ciphertext is malformed (no key id)"
    assert _error(CryptoError, ring.decrypt, "q$AAAA", where) == (
        "unknown encryption key id 'q'; add it to CALLENGINE_ENCRYPTION_KEYS"
    )
    tampered = _error(CryptoError, ring.decrypt, "a$not-base64!", where)
    assert tampered == (
        "ciphertext in conversation_transcripts.content failed authentication "
        "(wrong key, tampered, or moved between rows)"
    )
    short = "a$" + base64.b64encode(b"x" * 20).decode()
    assert "failed authentication" in _error(CryptoError, ring.decrypt, short, where)


def test_key_ring_configuration_errors() -> None:
    prefix = "CALLENGINE_ENCRYPTION_KEYS: "
    assert _error(ConfigError, KeyRing, {}, "a") == prefix + "at least one key is required"
    assert _error(ConfigError, KeyRing, {"a b": b"1" * 32}, "a b") == (
        prefix + "invalid key id 'a b' (use [A-Za-z0-9_-])"
    )
    assert _error(ConfigError, KeyRing, {"x" * 33: b"1" * 32}, "x" * 33).startswith(prefix + "invalid key id")
    assert KeyRing({"x" * 32: b"1" * 32, "A-z_9": b"2" * 32}, "A-z_9").key_ids == {"x" * 32, "A-z_9"}
    assert (
        _error(ConfigError, KeyRing, {"a": b"1" * 31}, "a") == prefix + "key 'a' must be 32 bytes (AES-256)"
    )
    assert (
        _error(ConfigError, KeyRing, {"a": b"1" * 33}, "a") == prefix + "key 'a' must be 32 bytes (AES-256)"
    )
    assert _error(ConfigError, KeyRing, {"a": b"1" * 32}, "b") == (
        "CALLENGINE_ACTIVE_KEY_ID: 'b' is not in the key ring"
    )
    assert _error(ConfigError, KeyRing.parse, "a") == prefix + "expected kid:base64key entries"
    assert _error(ConfigError, KeyRing.parse, "a:AAA") == prefix + "key 'a' is not valid base64"
    assert _error(ConfigError, KeyRing.parse, f"a:{K1}x") == prefix + "key 'a' is not valid base64"


def test_key_spec_tolerates_spaces_and_empty_entries() -> None:
    ring = KeyRing.parse(f" a : {K1} ,, b:{K2} ,")
    assert ring.key_ids == {"a", "b"} and ring.active_key_id == "b"
    where = aad("t", "c", uuid.UUID(int=3))
    assert KeyRing.parse(f"b:{K2}").decrypt(ring.encrypt("x", where), where) == "x"


def test_blind_index_is_hmac_sha256_of_the_e164_form() -> None:
    import hashlib
    import hmac

    key = bytes(range(32))
    index = BlindIndex.parse(base64.b64encode(key).decode())
    expected = hmac.new(key, b"+46701234567", hashlib.sha256).hexdigest()
    assert index.of("+46 70-123 45 67") == expected
    assert BlindIndex(b"k" * 32).of("+46701234567") != expected
    assert (
        _error(ConfigError, BlindIndex, b"k" * 31) == "CALLENGINE_BLIND_INDEX_KEY: must be at least 32 bytes"
    )
    assert (
        _error(ConfigError, BlindIndex.parse, "not base64!") == "CALLENGINE_BLIND_INDEX_KEY: not valid base64"
    )


def test_phone_errors_never_echo_the_number() -> None:
    assert _error(ValidationError, normalize_phone, "0701234567") == (
        "phone_number: must be in E.164 form: '+', country code, 7–15 digits"
    )
    assert _error(ValidationError, normalize_phone, 46701234567) == (
        "phone_number: must be a string in E.164 form, e.g. +46701234567"
    )
    assert normalize_phone("+4670123\t45(67)") == "+46701234567"
    assert normalize_phone("+1234567") == "+1234567"  # 7 digits: the shortest
    assert normalize_phone("+123456789012345") == "+123456789012345"  # 15: the longest
    with pytest.raises(ValidationError):
        normalize_phone("+123456")
    with pytest.raises(ValidationError):
        normalize_phone("+46701234567x")


def test_new_keys_are_32_random_bytes() -> None:
    from storage.crypto import new_key_b64

    a, b = base64.b64decode(new_key_b64()), base64.b64decode(new_key_b64())
    assert len(a) == len(b) == 32 and a != b


def test_base64_must_be_strict_everywhere() -> None:
    spaced = K1[:8] + " " + K1[8:]  # lenient decoding would drop the space and accept it
    with pytest.raises(ConfigError):
        KeyRing.parse(f"a:{spaced}")
    with pytest.raises(ConfigError):
        BlindIndex.parse(spaced)
    ring = KeyRing.parse(f"a:{K1}")
    where = aad("t", "c", uuid.UUID(int=5))
    stored = ring.encrypt("x", where)
    with pytest.raises(CryptoError):
        ring.decrypt(stored[:10] + " " + stored[10:], where)


def test_error_names_the_column_even_when_the_row_id_holds_a_colon() -> None:
    ring = KeyRing.parse(f"a:{K1}")
    row = uuid.UUID(bytes=b":" * 16)
    message = _error(CryptoError, ring.decrypt, "a$AAAA", aad("sessions", "phone_number", row))
    assert message.startswith("ciphertext in sessions.phone_number failed authentication")


def test_the_first_separator_splits_even_in_malformed_input() -> None:
    ring = KeyRing.parse(f"a:{K1}")
    where = aad("t", "c", uuid.UUID(int=9))
    assert ring.key_id_of("a$b$c") == "a"
    assert "failed authentication" in _error(CryptoError, ring.decrypt, "a$b$c", where)
    assert (
        _error(ConfigError, KeyRing.parse, f"a:{K1}:x")
        == "CALLENGINE_ENCRYPTION_KEYS: key 'a' is not valid base64"
    )
