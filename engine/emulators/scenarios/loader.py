"""Load and validate scenario files (TOML or YAML); errors name the bad field path.

``load_scenarios(path)`` accepts one file or a directory (every ``*.toml``,
``*.yaml``, ``*.yml`` in it, merged in name order). ``default_scenarios()``
is the set shipped with the package. Every problem raises
:class:`engine.errors.ValidationError` whose ``field`` is a path such as
``scenarios[3].answers[1]`` (prefixed with the file name when loading a file).
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, get_args

import msgspec

from engine.emulators.scenarios.schema import (
    FraudKind,
    Outcome,
    Persona,
    RealtimeModel,
    Scenario,
    ScenarioFile,
    Store,
    Turn,
    UnknownNumber,
    Verification,
)
from engine.errors import ValidationError

E164_RE = re.compile(r"^\+[1-9]\d{7,14}$")
_HOURS_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DTMF_RE = re.compile(r"^[0-9*#wW]+$")
_CHOICES = {"outcome": get_args(Outcome), "persona": get_args(Persona), "fraud": get_args(FraudKind)}
_MSGSPEC_PATH = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)


@dataclasses.dataclass(frozen=True)
class ScenarioSet:
    """Validated scenarios, indexed by phone number."""

    scenarios: tuple[Scenario, ...] = ()
    stores: tuple[Store, ...] = ()
    unknown_number: UnknownNumber = dataclasses.field(default_factory=UnknownNumber)
    realtime: RealtimeModel = dataclasses.field(default_factory=RealtimeModel)
    """The emulated Realtime model's behaviour for this set (``[realtime]`` in a file)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_phone", {s.phone: s for s in self.scenarios})
        object.__setattr__(self, "_by_name", {s.name: s for s in self.scenarios})
        object.__setattr__(self, "_stores", {s.id: s for s in self.stores})

    def for_phone(self, phone: str) -> Scenario | None:
        by_phone: dict[str, Scenario] = self._by_phone  # type: ignore[attr-defined]
        return by_phone.get(phone)

    def by_name(self, name: str) -> Scenario:
        by_name: dict[str, Scenario] = self._by_name  # type: ignore[attr-defined]
        return by_name[name]

    def store(self, store_id: str) -> Store:
        stores: dict[str, Store] = self._stores  # type: ignore[attr-defined]
        return stores[store_id]

    def verifications(self) -> Iterator[tuple[Scenario, Verification]]:
        """Every (scenario, verification) pair, for seeding a demo database."""
        for scenario in self.scenarios:
            for verification in scenario.verifications:
                yield scenario, verification

    def vocabulary(self) -> tuple[list[str], list[str]]:
        """All departments and all campaigns over the store catalog (what personas recognise)."""
        departments = [d for s in self.stores for d in s.departments]
        campaigns = [c for s in self.stores for c in s.campaigns]
        return departments, campaigns


def parse_scenarios(data: Any, *, source: str = "") -> ScenarioSet:
    """Validate already-parsed TOML/YAML data."""
    prefix = f"{source}: " if source else ""
    if not isinstance(data, Mapping):
        raise ValidationError(f"{prefix}(root)", "expected a table/mapping at the top level")
    try:
        parsed = msgspec.convert(data, ScenarioFile, strict=True)
    except msgspec.ValidationError as exc:
        path, message = _split_msgspec_error(str(exc))
        raise ValidationError(f"{prefix}{path}", message) from exc
    _check(parsed, prefix)
    return _resolve(parsed)


def load_scenarios(path: str | Path) -> ScenarioSet:
    """Load one scenario file, or every scenario file in a directory, and validate them."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".toml", ".yaml", ".yml"))
        if not files:
            raise ValidationError(str(path), "no *.toml/*.yaml scenario files in this directory")
    elif path.is_file():
        files = [path]
    else:
        raise ValidationError(str(path), "no such file or directory")
    merged: dict[str, Any] = {"stores": [], "scenarios": []}
    for file in files:
        data = _read(file.name, file.read_text(encoding="utf-8"), file.suffix)
        parse_scenarios(data, source=file.name)  # per-file paths in errors
        merged["stores"].extend(data.get("stores", []))
        merged["scenarios"].extend(data.get("scenarios", []))
        if "unknown_number" in data:
            merged["unknown_number"] = data["unknown_number"]
        if "realtime" in data:
            merged["realtime"] = data["realtime"]
    return parse_scenarios(merged, source=str(path) if len(files) > 1 else files[0].name)


def default_scenarios() -> ScenarioSet:
    """The scenario set shipped with the package (3 stores, ~30 verifications)."""
    root = resources.files("engine.emulators.scenarios") / "default"
    merged: dict[str, Any] = {"stores": [], "scenarios": []}
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".toml", ".yaml", ".yml")):
            data = _read(entry.name, entry.read_text(encoding="utf-8"), Path(entry.name).suffix)
            merged["stores"].extend(data.get("stores", []))
            merged["scenarios"].extend(data.get("scenarios", []))
            if "unknown_number" in data:
                merged["unknown_number"] = data["unknown_number"]
            if "realtime" in data:
                merged["realtime"] = data["realtime"]
    return parse_scenarios(merged, source="default scenarios")


def _read(name: str, text: str, suffix: str) -> dict[str, Any]:
    yaml: Any = None
    if suffix != ".toml":
        try:
            import yaml
        except ModuleNotFoundError as exc:
            raise ValidationError(
                name, "YAML scenarios need PyYAML (pip install 'callengine[demo]'); or write TOML"
            ) from exc
    try:
        data: Any = tomllib.loads(text) if yaml is None else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise ValidationError(name, f"not valid {suffix.lstrip('.').upper()}: {exc}") from exc
    except Exception as exc:  # yaml.YAMLError; yaml imported lazily
        raise ValidationError(name, f"not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValidationError(f"{name}: (root)", "expected a table/mapping at the top level")
    return data


def _split_msgspec_error(text: str) -> tuple[str, str]:
    match = _MSGSPEC_PATH.match(text)
    assert match is not None  # the pattern matches any string
    raw_path = (match.group("path") or "").lstrip(".")
    message = match.group("msg")
    message = message[:1].lower() + message[1:]
    leaf = raw_path.rsplit(".", 1)[-1]
    if message.startswith("invalid enum value") and leaf in _CHOICES:
        message += f": expected one of {', '.join(_CHOICES[leaf])}"
    return raw_path or "(root)", message


def _check(parsed: ScenarioFile, prefix: str) -> None:
    def fail(path: str, message: str) -> None:
        raise ValidationError(prefix + path, message)

    if parsed.version != 1:
        fail("version", f"unsupported version {parsed.version} (expected 1)")
    if parsed.unknown_number is not None:
        if parsed.unknown_number.ring_seconds < 0:
            fail("unknown_number.ring_seconds", "must be >= 0")
        if parsed.unknown_number.hangup_after_seconds <= 0:
            fail("unknown_number.hangup_after_seconds", "must be > 0")
    store_ids: set[str] = set()
    for i, store in enumerate(parsed.stores):
        path = f"stores[{i}]"
        if not store.id.strip():
            fail(f"{path}.id", "must not be empty")
        if store.id in store_ids:
            fail(f"{path}.id", f"duplicate store id {store.id!r}")
        store_ids.add(store.id)
        for day, hours in store.opening_hours.items():
            if day not in _DAYS:
                fail(f"{path}.opening_hours.{day}", f"unknown weekday (use one of {', '.join(_DAYS)})")
            if not _HOURS_RE.match(hours):
                fail(f"{path}.opening_hours.{day}", "expected HH:MM-HH:MM")
    phones: dict[str, int] = {}
    names = {s.name for s in parsed.scenarios}
    seen_names: set[str] = set()
    for i, sc in enumerate(parsed.scenarios):
        path = f"scenarios[{i}]"
        if not sc.name.strip():
            fail(f"{path}.name", "must not be empty")
        if sc.name in seen_names:
            fail(f"{path}.name", f"duplicate scenario name {sc.name!r}")
        seen_names.add(sc.name)
        if not E164_RE.match(sc.phone):
            fail(f"{path}.phone", "expected an E.164 number like +46701740605")
        if sc.phone in phones:
            fail(f"{path}.phone", f"the same number is already used by scenarios[{phones[sc.phone]}]")
        phones[sc.phone] = i
        for j, attempt in enumerate(sc.attempts):
            if not 0 <= attempt.ring_seconds <= 600:
                fail(f"{path}.attempts[{j}].ring_seconds", "must be within 0..600")
        turns: list[tuple[str, str | Turn]] = [(f"{path}.consent", sc.consent)]
        turns += [(f"{path}.answers[{j}]", a) for j, a in enumerate(sc.answers)]
        for turn_path, turn in turns:
            if isinstance(turn, Turn):
                _check_turn(turn_path, turn, fail)
            elif not turn.strip():
                fail(turn_path, "must not be empty (use {silence = true} for a silent turn)")
        if sc.reply_delay_ms < 0:
            fail(f"{path}.reply_delay_ms", "must be >= 0")
        if sc.hangup_after_seconds is not None and sc.hangup_after_seconds <= 0:
            fail(f"{path}.hangup_after_seconds", "must be > 0")
        if sc.copy_answers_from is not None:
            if sc.copy_answers_from not in names:
                fail(f"{path}.copy_answers_from", f"no scenario named {sc.copy_answers_from!r}")
            if sc.copy_answers_from == sc.name:
                fail(f"{path}.copy_answers_from", "a scenario cannot copy itself")
        imp = sc.impairments
        if not 0.0 <= imp.drop_rate < 1.0:
            fail(f"{path}.impairments.drop_rate", "must be within [0, 1)")
        if imp.drop_every < 0 or imp.drop_every == 1:
            fail(f"{path}.impairments.drop_every", "must be 0 (off) or >= 2")
        if imp.jitter_ms < 0:
            fail(f"{path}.impairments.jitter_ms", "must be >= 0")
        for j, chunk in enumerate(imp.drop_frames):
            if chunk < 1:
                fail(f"{path}.impairments.drop_frames[{j}]", "chunk numbers start at 1")
        for kind, gaps in (("gaps", imp.gaps), ("silence_gaps", imp.silence_gaps)):
            for j, gap in enumerate(gaps):
                if gap.at_ms < 0 or gap.duration_ms <= 0:
                    fail(f"{path}.impairments.{kind}[{j}]", "needs at_ms >= 0 and duration_ms > 0")
        if sc.expect is not None:
            _check_expect(f"{path}.expect", sc.expect, fail)
        for j, ver in enumerate(sc.verifications):
            vpath = f"{path}.verifications[{j}]"
            if ver.store not in store_ids:
                fail(f"{vpath}.store", f"unknown store id {ver.store!r}")
            if ver.purchase_time.tzinfo is None:
                fail(f"{vpath}.purchase_time", "needs a UTC offset, e.g. 2026-11-23T14:05:00+01:00")
            if ver.amount_sek <= 0:
                fail(f"{vpath}.amount_sek", "must be > 0")


def _check_expect(path: str, expect: str, fail: Any) -> None:
    from engine.domain import FailureReason, SessionStatus

    status, _, reason = expect.partition("/")
    if status not in {s.value for s in SessionStatus if s.terminal}:
        fail(path, "expected completed, failed or abandoned, optionally /<failure_reason>")
    if reason and reason not in {r.value for r in FailureReason}:
        fail(path, f"unknown failure reason {reason!r}")


def _check_turn(path: str, turn: Turn, fail: Any) -> None:
    if turn.say is not None and not turn.say.strip():
        fail(f"{path}.say", "must not be empty")
    if turn.silence and (turn.say or turn.dtmf or turn.barge_in_ms is not None):
        fail(f"{path}.silence", "a silent turn cannot also say, press or barge in")
    if turn.barge_in_ms is not None:
        if turn.barge_in_ms < 0:
            fail(f"{path}.barge_in_ms", "must be >= 0")
        if turn.say is None:
            fail(f"{path}.barge_in_ms", "barging in needs something to say")
    if turn.delay_ms is not None and turn.delay_ms < 0:
        fail(f"{path}.delay_ms", "must be >= 0")
    if turn.dtmf is not None and not _DTMF_RE.match(turn.dtmf):
        fail(f"{path}.dtmf", "digits 0-9, * and # only")
    if not (turn.say or turn.silence or turn.dtmf or turn.hangup):
        fail(path, "a turn needs at least one of say, silence, dtmf, hangup")


def _resolve(parsed: ScenarioFile) -> ScenarioSet:
    by_name = {s.name: s for s in parsed.scenarios}
    resolved: list[Scenario] = []
    for sc in parsed.scenarios:
        if sc.copy_answers_from is not None:
            source = by_name[sc.copy_answers_from]
            sc = msgspec.structs.replace(sc, consent=source.consent, answers=list(source.answers))
        resolved.append(sc)
    return ScenarioSet(
        scenarios=tuple(resolved),
        stores=tuple(parsed.stores),
        unknown_number=parsed.unknown_number or UnknownNumber(),
        realtime=parsed.realtime or RealtimeModel(),
    )
