from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import Secret, Settings
from engine.errors import ConfigError


def test_defaults_without_env() -> None:
    s = Settings.from_env({})
    assert s.database.url is None
    assert s.session.max_call_seconds == 180.0
    assert s.api.port == 50051


def test_env_overrides_and_types(tmp_path: Path) -> None:
    s = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://u@h:5/db",
            "CALLENGINE_DATA_DIR": str(tmp_path),
            "TWILIO_AUTH_TOKEN": "tok",
            "CALLENGINE_RETRY_BACKOFF": "1,2,3",
            "CALLENGINE_RESPECT_CALL_WINDOWS": "false",
            "CALLENGINE_SESSIONS_PER_HOST": "1",
        }
    )
    assert s.database.url == "postgresql://u@h:5/db"
    assert s.database.data_dir == tmp_path
    assert s.twilio.auth_token.get() == "tok"
    assert s.dispatch.retry_backoff_seconds == (1.0, 2.0, 3.0)
    assert s.dispatch.respect_call_windows is False
    assert s.host.sessions_per_host == 1


def test_secrets_never_in_repr() -> None:
    s = Settings.from_env({"TWILIO_AUTH_TOKEN": "supersecret", "OPENAI_API_KEY": "sk-abc"})
    assert "supersecret" not in repr(s)
    assert "sk-abc" not in repr(s)
    assert repr(Secret("x")) == "Secret('**********')"


def test_toml_file_and_env_precedence(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[session]\nmax_call_seconds = 60\n[api]\nport = 6000\n")
    s = Settings.from_env({"CALLENGINE_CONFIG": str(cfg), "CALLENGINE_GRPC_PORT": "7000"})
    assert s.session.max_call_seconds == 60.0
    assert s.api.port == 7000


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"CALLENGINE_SESSIONS_PER_HOST": "0"}, "CALLENGINE_SESSIONS_PER_HOST"),
        ({"CALLENGINE_SESSIONS_PER_HOST": "many"}, "CALLENGINE_SESSIONS_PER_HOST"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"CALLENGINE_RESPECT_CALL_WINDOWS": "maybe"}, "CALLENGINE_RESPECT_CALL_WINDOWS"),
        ({"TWILIO_CALLS_PER_SECOND": "nan"}, "TWILIO_CALLS_PER_SECOND"),
        ({"CALLENGINE_CONFIG": "/nonexistent/x.toml"}, "CALLENGINE_CONFIG"),
    ],
)
def test_bad_config_names_the_setting(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        Settings.from_env(env)
