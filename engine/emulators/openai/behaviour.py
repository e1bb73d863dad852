"""How the emulated Realtime model behaves: a well-behaved tool-calling model by default, or a difficult one.

Mutable at run time (tests switch it between calls), like the fault knobs.
A scenario file may set it for ``callengine emulate`` (its ``[realtime]`` table).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

Style = Literal["paraphrase", "verbatim"]


@dataclasses.dataclass
class ModelBehaviour:
    style: Style = "paraphrase"
    """``paraphrase``: its own words, varied per call, numbers as words, follow-ups to vague answers (a
    real model). ``verbatim``: the question texts as configured and the first wording of every line, no
    follow-ups (for tests that need exact text)."""
    tools: bool = True
    """False: never calls a tool (the engine must end the call by its fallbacks)."""
    end_call_during_audio: bool = False
    """Sends ``end_call`` while its goodbye audio is still streaming (before the goodbye finished)."""
    speaks_after_end_call: bool = False
    """Answers a customer turn that comes after its ``end_call`` (the engine must not play it)."""
    bad_arguments: bool = False
    """Its first ``end_call`` has invalid arguments; it corrects the call after the error output."""
    split_goodbye: bool = False
    """Says the goodbye in one response and calls ``end_call`` in the next one."""

    def __post_init__(self) -> None:
        if self.style not in ("paraphrase", "verbatim"):
            raise ValueError("style: must be 'paraphrase' or 'verbatim'")
