"""Signatures, stream tokens and TwiML."""

from __future__ import annotations

from twilio.request_validator import RequestValidator

from engine.telephony.security import SignatureChecker, StreamTokens
from engine.telephony.twiml import media_url, status_url, stream_twiml


def test_status_callback_signature_over_full_url() -> None:
    checker = SignatureChecker("secret-token")
    url = "https://calls.example.com/n1/status/abc?CallSid=CA1&CallStatus=ringing"
    sig = RequestValidator("secret-token").compute_signature(url, {})
    assert checker.valid(url, sig)
    assert not checker.valid(url.replace("ringing", "completed"), sig)
    assert not checker.valid(url, None)
    assert not checker.valid(url, "forged")


def test_stream_tokens() -> None:
    tokens = StreamTokens("k", ttl_seconds=60)
    tok = tokens.issue("s1", now=1000)
    assert tokens.verify("s1", tok, now=1010)
    assert not tokens.verify("s2", tok, now=1010)
    assert not tokens.verify("s1", tok, now=2000)  # expired
    assert not tokens.verify("s1", tok[:-2] + "xx", now=1010)
    assert not tokens.verify("s1", None)
    assert not tokens.verify("s1", "garbage")
    assert not StreamTokens("other").verify("s1", tok, now=1010)


def test_twiml_and_urls() -> None:
    xml = stream_twiml(media_url("wss://h.example/n1", "abc"), "tok.en")
    assert (
        '<Connect><Stream url="wss://h.example/n1/media/abc"><Parameter name="token" value="tok.en" />' in xml
    )
    assert status_url("wss://h.example/n1/", "abc") == "https://h.example/n1/status/abc"
    assert status_url("ws://127.0.0.1:5000", "abc") == "http://127.0.0.1:5000/status/abc"
