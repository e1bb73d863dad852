from __future__ import annotations

import dataclasses
import gc
import re
import tomllib
from pathlib import Path

import pytest

from engine import cli, config, config_cli, config_fields
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
        ({"CALLENGINE_HOST_PORT_RANGE": "20000"}, "CALLENGINE_HOST_PORT_RANGE"),
        ({"CALLENGINE_HOST_PORT_RANGE": "20003-20000"}, "CALLENGINE_HOST_PORT_RANGE"),
        ({"CALLENGINE_HOST_PORT_RANGE": "65535-65536"}, "CALLENGINE_HOST_PORT_RANGE"),
        ({"CALLENGINE_HOST_PORT_RANGE": "1-2", "CALLENGINE_HOST_PORT": "3"}, "set one, not both"),
    ],
)
def test_bad_config_names_the_setting(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        Settings.from_env(env)


# --- strictness: a typo is refused with the nearest valid name ---------------------------------


def _write(tmp_path: Path, text: str) -> dict[str, str]:
    cfg = tmp_path / "c.toml"
    cfg.write_text(text, encoding="utf-8")
    return {"CALLENGINE_CONFIG": str(cfg)}


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("[sesion]\nmax_call_seconds = 60\n", ["unknown section [sesion]", "did you mean [session]"]),
        ("[api]\nprot = 6000\n", ["unknown key 'prot' in [api]", "did you mean port"]),
        ("[session]\nbind_host = '0.0.0.0'\n", ["bind_host", "belongs in [host] or [api]"]),
        ("ray_adress = 'auto'\n", ["unknown key 'ray_adress'", "did you mean ray_address"]),
        ("[twilio]\nfrom_number = 46850000000\n", ["twilio.from_number", "expected a string"]),
        ("[api]\nport = 50051.5\n", ["api.port", "expected an integer"]),
        ("api = 5\n", ["[api] must be a table"]),
        ("[host]\n[host.extra]\n", ["unknown key 'extra' in [host]"]),
    ],
)
def test_unknown_or_mistyped_file_entries_are_refused(tmp_path: Path, text: str, needles: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(_write(tmp_path, text))
    for needle in needles:
        assert needle in str(info.value)


def test_unknown_environment_variable_suggests_the_nearest() -> None:
    with pytest.raises(
        ConfigError, match=r"CALLENGINE_SESION_PER_HOST.*did you mean CALLENGINE_SESSIONS_PER_HOST"
    ):
        Settings.from_env({"CALLENGINE_SESION_PER_HOST": "4"})
    with pytest.raises(ConfigError, match=r"CALLENGINE_A \(and 1 more\)"):
        Settings.from_env({"CALLENGINE_B": "1", "CALLENGINE_A": "1"})


def test_other_prefixes_and_known_non_setting_names_are_allowed() -> None:
    # TWILIO_*/OPENAI_* also belong to the SDKs (e.g. TWILIO_EDGE), so only CALLENGINE_* is strict.
    s = Settings.from_env({"CALLENGINE_TEST_DATABASE_URL": "postgresql://x@h/db", "OPENAI_ORG_ID": "org"})
    assert s == Settings.from_env({})


def test_every_field_declares_env_and_doc_once() -> None:
    infos = list(config.fields())
    assert len(infos) > 30
    envs = [i.env for i in infos]
    assert len(envs) == len(set(envs)), "two settings share an environment variable"
    for info in infos:
        assert info.doc.strip(), info.key
        assert info.env.isupper() and info.env.replace("_", "").isalnum(), info.env
    assert not set(envs) & set(config.OTHER_ENV)


def test_a_field_without_setting_is_caught() -> None:
    @dataclasses.dataclass(frozen=True)
    class Bad:
        """A section."""

        knob: int = 3

    @dataclasses.dataclass(frozen=True)
    class BadSettings(Settings):
        bad: Bad = dataclasses.field(default_factory=Bad)

    with pytest.raises(ConfigError, match=r"bad\.knob is not declared with setting"):
        list(config_fields.declared_fields(BadSettings))


def test_every_callengine_variable_named_in_the_repo_is_known() -> None:
    """A variable a test, doc or manifest uses but the loader would refuse is caught here."""
    known = config.env_names()
    root = Path(__file__).resolve().parents[2]
    pattern = re.compile(r"\bCALLENGINE_[A-Z0-9_]*[A-Z0-9]\b")
    unknown: dict[str, str] = {}
    paths = [root / "README.md", root / "Makefile", *root.glob("*.toml"), *root.glob("*.yaml")]
    for top in ("engine", "actors", "storage", "tests", "docs", "deploy"):
        paths += [p for p in (root / top).rglob("*") if p.suffix in (".py", ".md", ".yaml", ".toml", ".conf")]
    this_file = Path(__file__).resolve()  # it misspells names on purpose
    for path in paths:
        if not path.is_file() or path.resolve() == this_file:
            continue
        for name in pattern.findall(path.read_text(encoding="utf-8", errors="replace")):
            if name not in known:
                unknown[name] = str(path.relative_to(root))
    assert not unknown, f"unknown settings variables in the repo: {unknown}"


# --- the example file and `config show` --------------------------------------------------------


def test_checked_in_example_is_the_generated_one() -> None:
    checked_in = (Path(__file__).resolve().parents[2] / "callengine.example.toml").read_text(encoding="utf-8")
    assert checked_in == config_cli.example(), (
        "callengine.example.toml is stale: run `callengine config example > callengine.example.toml`"
    )


def test_example_is_complete_and_loads_to_the_defaults(tmp_path: Path) -> None:
    text = config_cli.example()
    for info in config.fields():
        assert f"{info.env}:" in text and f"{info.name} = " in text, info.key
    cfg = tmp_path / "example.toml"
    cfg.write_text(text, encoding="utf-8")
    assert Settings.from_env({"CALLENGINE_CONFIG": str(cfg)}) == Settings.from_env({})
    # Uncommenting everything still loads (the commented keys are valid names and types).
    uncommented = re.sub(r"^# (\w+ = )", r"\1", text, flags=re.MULTILINE)
    cfg.write_text(uncommented, encoding="utf-8")
    Settings.from_env({"CALLENGINE_CONFIG": str(cfg), "CALLENGINE_DATA_DIR": str(tmp_path)})


def test_show_masks_secrets_and_url_passwords_and_names_sources(tmp_path: Path) -> None:
    env = {
        **_write(tmp_path, "[api]\nport = 6000\n"),
        "DATABASE_URL": "postgresql://owner:hunter2@db:5432/callengine",
        "TWILIO_AUTH_TOKEN": "tok-secret",
        "OPENAI_API_KEY": "sk-secret",
        "CALLENGINE_GRPC_MAX_IN_FLIGHT": "12",
    }
    text = config_cli.show(env)
    for secret in ("hunter2", "tok-secret", "sk-secret"):
        assert secret not in text
    assert 'url = "postgresql://owner:**********@db:5432/callengine"  # from DATABASE_URL' in text
    assert 'auth_token = "**********"  # from TWILIO_AUTH_TOKEN' in text
    assert f"port = 6000  # from {env['CALLENGINE_CONFIG']}" in text
    assert "max_in_flight = 12  # from CALLENGINE_GRPC_MAX_IN_FLIGHT" in text
    assert 'jwt_secret = ""' in text
    tomllib.loads(text)  # what it prints is itself a valid settings file


def test_cli_reports_a_config_error_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CALLENGINE_GRPC_PROT", "1")
    # An event-loop task another test left behind is destroyed (and logged) now, not inside the
    # output this test reads: only the CLI's own output is checked for a traceback.
    gc.collect()
    capsys.readouterr()
    assert cli.main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert "did you mean CALLENGINE_GRPC_PORT" in err and "Traceback" not in err
