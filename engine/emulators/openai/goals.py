"""The call data a real model would read in the session instructions, parsed for the emulated one.

The instructions (docs/instruction-format.md) are goals and rules in prose for
the model, then one JSON block between ``<<<SAMTALSDATA`` and
``SAMTALSDATA>>>`` lines: the store, its departments and campaigns, the
questions to cover (id + topic), what an earlier attempt already covered, the
opt-out key and the reward range. The emulated interviewer pursues those
goals; it never reads sentences out of the prose. Anything malformed gives no
goals (the emulator then plays a generic assistant), as a model would
improvise.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

DATA_START = "<<<SAMTALSDATA"
DATA_END = "SAMTALSDATA>>>"


@dataclasses.dataclass(frozen=True)
class Question:
    id: str
    topic: str
    department: str | None = None


@dataclasses.dataclass(frozen=True)
class Goals:
    store: str
    questions: tuple[Question, ...]
    departments: tuple[str, ...] = ()
    campaigns: tuple[str, ...] = ()
    answered: tuple[str, ...] = ()
    resumed: bool = False
    consented: bool = False
    """A restored socket mid-call: the customer already said yes (no new consent question)."""
    opt_out_digit: str = "9"
    reward_min: int = 2
    reward_max: int = 15

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def parse_goals(instructions: str) -> Goals | None:
    """The goals of the last complete data block, or None."""
    end = instructions.rfind("\n" + DATA_END)
    start = instructions.rfind(DATA_START + "\n", 0, end if end >= 0 else None)
    if start < 0 or end < 0 or end <= start:
        return None
    try:
        data = json.loads(instructions[start + len(DATA_START) + 1 : end])
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("butik"), str):
        return None
    questions = []
    for item in data.get("frågor") or []:
        if isinstance(item, dict) and isinstance(item.get("id"), str) and isinstance(item.get("ämne"), str):
            dep = item.get("avdelning")
            questions.append(Question(item["id"], item["ämne"], dep if isinstance(dep, str) else None))
    raw_reward = data.get("belöning_procent")
    reward: dict[str, Any] = raw_reward if isinstance(raw_reward, dict) else {}
    digit = data.get("avanmälningssiffra")
    return Goals(
        store=data["butik"],
        questions=tuple(questions),
        departments=_strings(data.get("avdelningar")),
        campaigns=_strings(data.get("kampanjer")),
        answered=_strings(data.get("redan_besvarade")),
        resumed=data.get("återupptaget") is True,
        consented=data.get("samtycke_givet") is True,
        opt_out_digit=digit if isinstance(digit, str) and digit else "9",
        reward_min=int(reward.get("min", 2)) if isinstance(reward.get("min", 2), int) else 2,
        reward_max=int(reward.get("max", 15)) if isinstance(reward.get("max", 15), int) else 15,
    )
