"""How settings are declared and checked: one place per field, strict about names.

Each field of a settings section is declared with :func:`setting`, which carries
its environment variable and documentation beside the default. Everything else
is derived from those declarations: the loader's variable names, the refusal of
unknown names (with the nearest valid one), ``callengine config example`` and
``callengine config show``. The settings themselves live in :mod:`engine.config`.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterator, Mapping
from typing import Any

from engine.errors import ConfigError


def setting(default: Any = dataclasses.MISSING, *, env: str, doc: str, factory: Any = None) -> Any:
    """Declare a settings field: its default, its environment variable and its documentation.

    ``doc`` becomes the comment above the key in ``callengine.example.toml``. Use
    ``factory`` (not ``default``) for a value computed per machine (it is left
    commented out in the example).
    """
    metadata = {"env": env, "doc": doc, "machine_default": factory is not None}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    """One settings field as the loader, the example and ``config show`` see it."""

    section: str  # "" for a top-level field
    name: str
    env: str
    doc: str
    default: Any
    machine_default: bool
    annotation: str = ""
    """The field's declared type as written (``tuple[str, ...]``): tells an empty tuple's items."""

    @property
    def key(self) -> str:
        return f"{self.section}.{self.name}" if self.section else self.name


def section_class(f: dataclasses.Field[Any]) -> type | None:
    """The dataclass a section field holds (read from its factory: nothing is instantiated)."""
    factory = f.default_factory
    if factory is not dataclasses.MISSING and isinstance(factory, type) and dataclasses.is_dataclass(factory):
        return factory
    return None


def declared_sections(cls: type) -> dict[str, str]:
    """Section name → its one-line description, in declaration order."""
    out = {}
    for f in dataclasses.fields(cls):
        section = section_class(f)
        if section is not None:
            out[f.name] = (section.__doc__ or "").strip()
    return out


def declared_fields(cls: type) -> Iterator[FieldInfo]:
    """Every settings field in declaration order: top-level fields first, then each section's."""
    for f in dataclasses.fields(cls):
        if section_class(f) is None:
            yield _info("", f)
    for f in dataclasses.fields(cls):
        section = section_class(f)
        if section is not None:
            for sf in dataclasses.fields(section):
                yield _info(f.name, sf)


def _default_of(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    raise ConfigError(f"settings field {f.name} has no default")


def _info(section: str, f: dataclasses.Field[Any]) -> FieldInfo:
    where = f"{section}.{f.name}" if section else f.name
    if "env" not in f.metadata or not f.metadata.get("doc"):
        raise ConfigError(f"settings field {where} is not declared with setting(env=..., doc=...)")
    return FieldInfo(
        section=section,
        name=f.name,
        env=f.metadata["env"],
        doc=f.metadata["doc"],
        default=_default_of(f),
        machine_default=bool(f.metadata.get("machine_default")),
        annotation=str(f.type),
    )


def nearest(word: str, candidates: list[str]) -> str:
    match = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f"; did you mean {match[0]}?" if match else ""


def check_file(values: Mapping[str, Any], where: str, cls: type) -> None:
    """Refuse unknown sections and keys of a settings file, naming the nearest valid one."""
    known_sections = declared_sections(cls)
    infos = list(declared_fields(cls))
    top_keys = [i.name for i in infos if not i.section]
    for key, value in values.items():
        if key in known_sections:
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: [{key}] must be a table")
            section_keys = [i.name for i in infos if i.section == key]
            for sub in value:
                if sub not in section_keys:
                    elsewhere = " or ".join(f"[{i.section}]" for i in infos if i.name == sub and i.section)
                    hint = f"; {sub} belongs in {elsewhere}" if elsewhere else nearest(sub, section_keys)
                    raise ConfigError(f"{where}: unknown key {sub!r} in [{key}]{hint}")
        elif key not in top_keys:
            kind = "section" if isinstance(value, dict) else "key"
            shown = f"[{key}]" if kind == "section" else repr(key)
            candidates = [f"[{s}]" for s in known_sections] if kind == "section" else top_keys
            hint = nearest(shown, candidates) or nearest(key, list(known_sections) + top_keys)
            raise ConfigError(f"{where}: unknown {kind} {shown}{hint}")


def check_env(env: Mapping[str, str], known: set[str], prefix: str) -> None:
    """Refuse unknown variables that start with ``prefix``, naming the nearest known one."""
    unknown = sorted(k for k in env if k.startswith(prefix) and k not in known)
    if unknown:
        name = unknown[0]
        hint = nearest(name, sorted(known))
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        raise ConfigError(f"unknown environment variable {name}{more}{hint}")
