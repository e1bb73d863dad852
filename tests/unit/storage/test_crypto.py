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
