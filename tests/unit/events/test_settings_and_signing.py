"""Webhook endpoints and secrets from the settings; the Standard Webhooks signature, cross-checked
with two independent verifiers (the ``standardwebhooks`` library and the openai SDK)."""

from __future__ import annotations

import base64
import json
import pickle
import time

import pytest
import standardwebhooks
from openai import OpenAI

from engine.config import Settings
from engine.errors import ConfigError
from engine.events import signing
from engine.events.endpoints import parse_endpoints

KEY = bytes(range(32))
SECRET = "whsec_" + base64.b64encode(KEY).decode()
OTHER = "whsec_" + base64.b64encode(bytes(range(100, 132))).decode()


def _env(**extra: str) -> dict[str, str]:
    return {
        "CALLENGINE_WEBHOOK_ENDPOINTS": "crm=https://crm.example/hooks,ledger=https://pay.example/in?x=1",
        "CALLENGINE_WEBHOOK_SECRETS": f"crm={SECRET},ledger={OTHER},ledger={SECRET}",
        **extra,
    }


def test_endpoints_and_secrets_are_parsed_by_name() -> None:
    s = Settings.from_env(_env())
    endpoints = parse_endpoints(s.events.webhook_endpoints, s.events.webhook_secrets)
    assert list(endpoints) == ["crm", "ledger"]
    assert endpoints["crm"].url == "https://crm.example/hooks" and endpoints["crm"].secrets == (KEY,)
    assert len(endpoints["ledger"].secrets) == 2  # a rotation: both keys sign
    # secrets never show in a repr, and travel between processes by name only
    assert "whsec" not in repr(s.events) and SECRET not in repr(endpoints)
    assert SECRET.encode() not in pickle.dumps(s.events.webhook_secrets)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"CALLENGINE_WEBHOOK_ENDPOINTS": "crm=http://crm.example/hooks"}, "https://"),
        ({"CALLENGINE_WEBHOOK_ENDPOINTS": "CRM=https://crm.example/hooks"}, "endpoint name"),
        ({"CALLENGINE_WEBHOOK_ENDPOINTS": "https://crm.example/hooks"}, "name=value"),
        ({"CALLENGINE_WEBHOOK_ENDPOINTS": "crm=https://a.example,crm=https://b.example"}, "twice"),
        ({"CALLENGINE_WEBHOOK_ENDPOINTS": "crm=https://u:p@crm.example/"}, "credentials"),
        ({"CALLENGINE_WEBHOOK_SECRETS": f"crm={SECRET}"}, "ledger has no signing secret"),
        ({"CALLENGINE_WEBHOOK_SECRETS": "crm=abc,ledger=abc"}, "whsec_"),
        ({"CALLENGINE_WEBHOOK_SECRETS": "crm=whsec_!!!,ledger=whsec_x"}, "base64"),
        ({"CALLENGINE_WEBHOOK_SECRETS": "crm=whsec_c2hvcnQ=,ledger=whsec_c2hvcnQ="}, "24–64 bytes"),
        ({"CALLENGINE_WEBHOOK_MAX_ATTEMPTS": "0"}, "positive"),
        ({"CALLENGINE_WEBHOOK_BACKOFF": "5,-1"}, "non-negative"),
        ({"CALLENGINE_EVENT_RETENTION_DAYS": "0"}, "> 0"),
    ],
)
def test_bad_webhook_settings_are_refused_with_a_clear_error(extra: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        Settings.from_env(_env(**extra))
    assert "whsec_" not in str(err.value).replace("must start with whsec_", "")  # no secret echoed


def test_no_endpoints_is_valid_and_the_default() -> None:
    s = Settings.from_env({})
    assert parse_endpoints(s.events.webhook_endpoints, s.events.webhook_secrets) == {}
    # a node's mounted secrets may name endpoints this deployment does not list: ignored
    s = Settings.from_env({"CALLENGINE_WEBHOOK_SECRETS": f"crm={SECRET}"})
    assert parse_endpoints(s.events.webhook_endpoints, s.events.webhook_secrets) == {}


def test_signature_verifies_with_standardwebhooks_and_the_openai_sdk() -> None:
    body = json.dumps({"id": "call.settled:x:1", "type": "call.settled", "data": {"ö": 1}}).encode()
    now = int(time.time())
    headers = signing.sign("call.settled:x:1", now, body, [KEY, bytes(range(50, 82))])
    assert standardwebhooks.Webhook(SECRET).verify(body, headers)["type"] == "call.settled"
    OpenAI(api_key="unused").webhooks.verify_signature(body, headers, secret=SECRET)
    assert signing.verify(body, headers, KEY) == "call.settled:x:1"


def test_tampering_and_replays_are_refused_by_every_verifier() -> None:
    body = b'{"id":"e","type":"report.ready"}'
    now = int(time.time())
    headers = signing.sign("e", now, body, [KEY])
    tampered = body.replace(b"report", b"rapport")
    for bad_body, bad_headers in (
        (tampered, headers),
        (body, {**headers, "webhook-id": "other"}),
        (body, signing.sign("e", now - 3600, body, [KEY])),  # an hour-old capture
        (body, signing.sign("e", now, body, [bytes(32)])),  # another key
    ):
        with pytest.raises(signing.SignatureError):
            signing.verify(bad_body, bad_headers, KEY)
        with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
            standardwebhooks.Webhook(SECRET).verify(bad_body, bad_headers)
        with pytest.raises(Exception, match=r"signature|too old"):
            OpenAI(api_key="unused").webhooks.verify_signature(bad_body, bad_headers, secret=SECRET)


def test_signing_needs_a_key() -> None:
    with pytest.raises(ValueError):
        signing.sign("e", 1, b"{}", [])
