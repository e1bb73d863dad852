"""The committed stubs in engine/api/gen must match what `make proto` generates now."""

from __future__ import annotations

from pathlib import Path

from engine.api import protogen


def test_committed_stubs_are_fresh(tmp_path: Path) -> None:
    generated = {p.name: p.read_bytes() for p in protogen.generate(tmp_path)}
    committed = {p.name: p.read_bytes() for p in protogen.GEN_DIR.iterdir() if p.is_file()}
    assert set(generated) == set(committed), "stub files differ: run `make proto`"
    stale = sorted(name for name, data in generated.items() if committed[name] != data)
    assert not stale, f"stale stubs {stale}: run `make proto` and commit engine/api/gen"


def test_every_message_field_is_documented() -> None:
    """Every message, field, enum value and rpc in the proto has a comment line above it."""
    for path in protogen.proto_files():
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            s = line.strip()
            declares = s.startswith(("message ", "rpc ", "enum ", "service ")) or (
                s.endswith(";") and "=" in s and not s.startswith(("syntax", "option", "//"))
            )
            if declares:
                assert lines[i - 1].strip().startswith("//"), f"{path.name}:{i + 1} undocumented: {s}"
