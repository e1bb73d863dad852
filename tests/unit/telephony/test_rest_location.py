"""Twilio region/edge: set for real Twilio (EU processing in ie1), never applied to the emulator."""

from __future__ import annotations

import pytest

from engine.config import Secret, Settings, TwilioSettings
from engine.errors import ConfigError
from engine.telephony.rest import TwilioRestCalls

CALLS = "https://api.twilio.com/2010-04-01/Accounts/AC1/Calls.json"


async def test_ie1_goes_to_the_dublin_ie1_host_with_the_regional_key() -> None:
    settings = Settings.from_env(
        {
            "TWILIO_ACCOUNT_SID": "AC1",
            "TWILIO_AUTH_TOKEN": "token",
            "TWILIO_REGION": "ie1",
            "TWILIO_API_KEY_SID": "SK1",
            "TWILIO_API_KEY_SECRET": "key-secret",
        }
    ).twilio
    calls = TwilioRestCalls(settings)
    try:
        client = calls._client
        assert (
            client.get_hostname(CALLS)
            == "https://api.dublin.ie1.twilio.com/2010-04-01/Accounts/AC1/Calls.json"
        )
        assert client.auth == ("SK1", "key-secret") and client.account_sid == "AC1"
    finally:
        await calls.aclose()


async def test_emulator_url_is_never_rewritten_even_with_sdk_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK reads TWILIO_EDGE/TWILIO_REGION from os.environ itself; the settings must win.
    monkeypatch.setenv("TWILIO_EDGE", "dublin")
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    settings = TwilioSettings(account_sid="AC1", auth_token=Secret("t"), api_base_url="http://127.0.0.1:9")
    calls = TwilioRestCalls(settings)
    try:
        url = "http://127.0.0.1:9/2010-04-01/Accounts/AC1/Calls.json"
        assert calls._client.get_hostname(url) == url
        assert calls._client.auth == ("AC1", "t")
    finally:
        await calls.aclose()


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"TWILIO_REGION": "ie1", "TWILIO_API_BASE_URL": "http://127.0.0.1:9"}, "real Twilio only"),
        ({"TWILIO_EDGE": "dublin"}, "set TWILIO_REGION too"),
        ({"TWILIO_REGION": "ie2", "TWILIO_API_KEY_SID": "SK1"}, "did you mean ie1"),
        (
            {"TWILIO_REGION": "ie1", "TWILIO_EDGE": "dublni", "TWILIO_API_KEY_SID": "SK1"},
            "did you mean dublin",
        ),
        ({"TWILIO_REGION": "ie1"}, "API key created in that region"),
    ],
)
def test_bad_location_settings_are_refused(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        Settings.from_env(env)
