"""Scenario files: the default set loads; every bad field is named by its path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.emulators.scenarios import E164_RE, Turn, default_scenarios, load_scenarios, parse_scenarios
from engine.errors import ValidationError


def test_default_set_covers_the_demo() -> None:
    scenarios = default_scenarios()
    verifications = list(scenarios.verifications())
    assert len(verifications) >= 30
    assert {v.store for _, v in verifications} == {"grocery-solna", "electronics-kista", "cafe-sodermalm"}
    assert {s.fraud for s in scenarios.scenarios if s.fraud} == {
        "copied_script",
        "phantom_department",
        "outside_hours",
        "phone_reuse",
    }
    outcomes = {a.outcome for s in scenarios.scenarios for a in s.attempts}
    assert outcomes == {"answer", "no-answer", "busy", "failed", "voicemail"}
    for sc in scenarios.scenarios:
        assert E164_RE.match(sc.phone) and sc.phone.startswith("+467017406")  # reserved for fiction
    turns = [a for s in scenarios.scenarios for a in s.answers if isinstance(a, Turn)]
    assert (
        any(t.barge_in_ms for t in turns) and any(t.hangup for t in turns) and any(t.silence for t in turns)
    )
    reuse = scenarios.by_name("fraud-phone-reuse")
    assert len({v.store for v in reuse.verifications}) == 3


def _bad(**scenario: Any) -> dict[str, Any]:
    return {
        "scenarios": [
            {"name": "ok", "phone": "+46701740698"},
            {"name": "x", "phone": "+46701740699", **scenario},
        ]
    }


@pytest.mark.parametrize(
    ("data", "field", "fragment"),
    [
        (_bad(answers=["a", 3]), "scenarios[1].answers[1]", "expected `str | object`, got `int`"),
        (_bad(answers=[{"sya": "hej"}]), "scenarios[1].answers[0]", "unknown field `sya`"),
        (_bad(answers=[{"say": 5}]), "scenarios[1].answers[0].say", "expected `str | null`"),
        (_bad(phone="0701740699"), "scenarios[1].phone", "E.164"),
        (_bad(phone="+46701740698"), "scenarios[1].phone", "already used by scenarios[0]"),
        (_bad(attempts=[{"outcome": "maybe"}]), "scenarios[1].attempts[0].outcome", "expected one of"),
        (_bad(attempts=[{"ring_seconds": -1}]), "scenarios[1].attempts[0].ring_seconds", "0..600"),
        (
            _bad(answers=[{"barge_in_ms": 100}]),
            "scenarios[1].answers[0].barge_in_ms",
            "needs something to say",
        ),
        (_bad(answers=[{"silence": True, "say": "x"}]), "scenarios[1].answers[0].silence", "cannot also"),
        (_bad(answers=[{"dtmf": "9a"}]), "scenarios[1].answers[0].dtmf", "digits"),
        (_bad(answers=[""]), "scenarios[1].answers[0]", "must not be empty"),
        (_bad(copy_answers_from="nobody"), "scenarios[1].copy_answers_from", "no scenario named"),
        (_bad(persona="grumpy"), "scenarios[1].persona", "expected one of"),
        (_bad(impairments={"drop_rate": 1.5}), "scenarios[1].impairments.drop_rate", "[0, 1)"),
        (
            _bad(
                verifications=[
                    {"store": "nowhere", "purchase_time": "2026-11-20T10:00:00+01:00", "amount_sek": 1}
                ]
            ),
            "scenarios[1].verifications[0].store",
            "unknown store",
        ),
        ({"version": 2}, "version", "unsupported"),
        (
            {"stores": [{"id": "a", "name": "A", "opening_hours": {"mon": "9-17"}}]},
            "stores[0].opening_hours.mon",
            "HH:MM",
        ),
        ({"scenarios": [{"phone": "+46701740699"}]}, "scenarios[0]", "missing required field `name`"),
        ({"extra": 1}, "(root)", "unknown field `extra`"),
    ],
)
def test_validation_errors_name_the_field(data: dict[str, Any], field: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_scenarios(data)
    assert info.value.field == field
    assert fragment in info.value.description


def test_files_toml_yaml_and_directories(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(
        '[[stores]]\nid = "s"\nname = "S"\n\n[[scenarios]]\nname = "a"\nphone = "+46701740690"\n'
        'verifications = [{ store = "s", purchase_time = 2026-11-20T10:00:00+01:00, amount_sek = 10 }]\n',
        encoding="utf-8",
    )
    (tmp_path / "b.yaml").write_text(
        "scenarios:\n  - name: b\n    phone: '+46701740691'\n    answers: [hej, {silence: true}]\n",
        encoding="utf-8",
    )
    scenarios = load_scenarios(tmp_path)
    assert [s.name for s in scenarios.scenarios] == ["a", "b"]
    assert scenarios.for_phone("+46701740691") is not None
    assert load_scenarios(tmp_path / "b.yaml").scenarios[0].answers[1] == Turn(silence=True)

    (tmp_path / "c.yaml").write_text("scenarios:\n  - name: c\n    phone: 12\n", encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        load_scenarios(tmp_path)
    assert info.value.field == "c.yaml: scenarios[0].phone"
    (tmp_path / "c.yaml").write_text("scenarios: [\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"c\.yaml: not valid YAML"):
        load_scenarios(tmp_path / "c.yaml")
    with pytest.raises(ValidationError, match="no such file"):
        load_scenarios(tmp_path / "missing.toml")


def test_documented_example_is_valid() -> None:
    import tomllib

    doc = Path(__file__).resolve().parents[3] / "docs" / "emulators.md"
    block = doc.read_text(encoding="utf-8").split("```toml\n")[-1].split("```")[0]
    data = tomllib.loads(block)
    data["scenarios"][0].pop("copy_answers_from")  # names a scenario of the default set
    scenarios = parse_scenarios(data)
    assert len(scenarios.scenarios[0].answers) == 6


def test_yaml_without_pyyaml_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # PyYAML is in the demo extra, not a core dependency: a bare install gets a clear message.
    monkeypatch.setitem(__import__("sys").modules, "yaml", None)
    (tmp_path / "a.yaml").write_text("scenarios: []\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"callengine\[demo\]"):
        load_scenarios(tmp_path / "a.yaml")
