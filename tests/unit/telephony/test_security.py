"""Signatures over POST callbacks, the auth-token check, and per-attempt tokens."""

from __future__ import annotations

import pytest

from engine.errors import ConfigError
from engine.telephony.attempt_token import SIP_HEADER, AttemptTokens, Verdict, parse
from engine.telephony.security import SignatureChecker, check_auth_token

TOKEN = "0123456789abcdef0123456789abcdef"
SESSION = "6f1c2a4e-8d2b-4c1a-9a51-2f3e4d5c6b7a"


def test_post_signature_covers_url_and_form() -> None:
    checker = SignatureChecker(TOKEN)
    url = f"https://h.example/status/{SESSION}?t=abc"
    form = {"CallSid": "CA1", "CallStatus": "ringing", "To": "+46701234567"}
    sig = checker.sign(url, form)
    assert checker.valid(url, sig, form)
    assert not checker.valid(url, sig, {**form, "CallStatus": "completed"})
    assert not checker.valid(url.replace("abc", "abd"), sig, form)
    assert not checker.valid(url, None, form)
    assert not SignatureChecker("f" * 32).valid(url, sig, form)


@pytest.mark.parametrize("bad", ["", "short", " " * 40, "x" * 31, "has spaces in it but is long enough!!"])
def test_empty_or_malformed_auth_token_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match="TWILIO_AUTH_TOKEN") as info:
        SignatureChecker(bad)
    assert bad not in str(info.value) or not bad


def test_emulator_and_real_token_shapes_accepted() -> None:
    from engine.emulators.twilio import DEFAULT_AUTH_TOKEN

    assert check_auth_token(DEFAULT_AUTH_TOKEN) and check_auth_token(TOKEN)


def test_attempt_tokens_bind_session_and_attempt() -> None:
    tokens = AttemptTokens(TOKEN, ttl_seconds=60)
    tok = tokens.issue(SESSION, 2, now=1000)
    assert tokens.check(tok, SESSION, 2, now=1010) is Verdict.OK
    assert tokens.check(tok, SESSION, 3, now=1010) is Verdict.OTHER_ATTEMPT
    assert tokens.check(tok, "7f1c2a4e-8d2b-4c1a-9a51-2f3e4d5c6b7a", 2, now=1010) is Verdict.OTHER_SESSION
    assert tokens.check(tok, SESSION, 2, now=2000) is Verdict.EXPIRED
    assert tokens.check(tok[:-2] + "xx", SESSION, 2, now=1010) is Verdict.FORGED
    forged_attempt = tok.replace(f"{SESSION}.2.", f"{SESSION}.3.")
    assert tokens.check(forged_attempt, SESSION, 3, now=1010) is Verdict.FORGED
    assert tokens.check(None, SESSION, 2) is Verdict.MALFORMED
    assert tokens.check("garbage", SESSION, 2) is Verdict.MALFORMED
    assert AttemptTokens("another-secret").check(tok, SESSION, 2, now=1010) is Verdict.FORGED


def test_token_is_header_and_url_safe() -> None:
    tok = AttemptTokens(TOKEN).issue(SESSION, 1)
    assert parse(tok) is not None and len(tok) < 160
    assert all(c.isalnum() or c in "-_." for c in tok)
    assert SIP_HEADER.startswith("X-")
