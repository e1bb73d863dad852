"""The emulated AI voice: an interviewer that follows the script in the session instructions.

The format is defined in docs/instruction-format.md. What to say next is a pure
function of the script and the conversation so far (every assistant line is
matched back to its script key), so a session restored after a reconnect —
earlier items replayed as text — continues exactly where it was.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

START_MARKER = "### SAMTALSMANUS"
END_MARKER = "### SLUT"
GREETING = "HÄLSNING"
CONSENT = "SAMTYCKE"
CLOSING = "AVSLUTNING"
REMINDER = "PÅMINNELSE"
APOLOGY = "URSÄKT"
SAY_PREFIX = "SÄG:"
_QUESTION_RE = re.compile(r"^FRÅGA (\d+)$")
_SIMPLE_KEYS = frozenset({GREETING, CONSENT, CLOSING, REMINDER, APOLOGY})
_ENDING_PHRASES = ("hej då", "hejdå", "adjö", "ring inte igen")
_NON_WORD_RE = re.compile(r"[^\wåäöÅÄÖ]+")

GENERIC_GREETING = "Hej! Vad kan jag hjälpa dig med i dag?"
GENERIC_REPLY = "Tack, jag förstår. Berätta gärna mer."
GENERIC_CLOSING = "Tack för samtalet. Hej då!"
_MIN_PREFIX_MATCH = 8
"""A replayed assistant text this long that starts a script line counts as that line (truncated replay)."""


@dataclasses.dataclass(frozen=True)
class Script:
    """The parsed ``### SAMTALSMANUS`` block. ``questions`` are in FRÅGA order."""

    lines: dict[str, str]
    questions: tuple[tuple[str, str], ...]

    @property
    def empty(self) -> bool:
        return not self.lines and not self.questions

    def text(self, key: str) -> str:
        for question_key, text in self.questions:
            if question_key == key:
                return text
        return self.lines.get(key, "")

    def all_lines(self) -> list[tuple[str, str]]:
        return [*self.lines.items(), *self.questions]


def parse_script(instructions: str) -> Script:
    """Parse the script block; no block (or an unterminated one) gives an empty script."""
    lines: dict[str, str] = {}
    questions: dict[int, str] = {}
    inside = False
    for raw in instructions.splitlines():
        line = raw.strip()
        if line == START_MARKER:
            inside, lines, questions = True, {}, {}
            continue
        if line == END_MARKER and inside:
            ordered = tuple((f"FRÅGA {n}", questions[n]) for n in sorted(questions))
            return Script(lines=lines, questions=ordered)
        if not inside or ": " not in line:
            continue
        key, text = line.split(": ", 1)
        key, text = key.strip(), text.strip()
        if not text:
            continue
        match = _QUESTION_RE.match(key)
        if match:
            questions.setdefault(int(match.group(1)), text)
        elif key in _SIMPLE_KEYS:
            lines.setdefault(key, text)
    return Script(lines={}, questions=())


@dataclasses.dataclass(frozen=True)
class Turn:
    """One conversation item as the interviewer sees it."""

    role: str
    """``user`` or ``assistant`` (system items are ignored)."""
    text: str | None
    """User: the decoded transcript (None = nothing intelligible). Assistant: the spoken text."""
    keys: tuple[str, ...] = ()
    """Assistant: the script keys this line spoke (set by the emulator for its own responses)."""


@dataclasses.dataclass(frozen=True)
class Line:
    text: str
    keys: tuple[str, ...]


def _normalise(text: str) -> str:
    return _NON_WORD_RE.sub(" ", text.lower()).strip()


def is_ending(text: str) -> bool:
    """A goodbye or an opt-out in the customer's words."""
    spaced = f" {_normalise(text)} "
    return any(f" {phrase} " in spaced for phrase in _ENDING_PHRASES)


def match_keys(script: Script, text: str) -> tuple[str, ...]:
    """Script keys whose lines an assistant text contains (or, if cut short, begins)."""
    spoken = _normalise(text)
    if not spoken:
        return ()
    keys = []
    for key, line in script.all_lines():
        normal = _normalise(line)
        if normal in spoken or (len(spoken) >= _MIN_PREFIX_MATCH and normal.startswith(spoken)):
            keys.append(key)
    return tuple(keys)


def say_override(instructions: str | None) -> str | None:
    """``SÄG: <text>`` in ``response.instructions`` → the text to say verbatim."""
    if not instructions:
        return None
    stripped = instructions.strip()
    if not stripped.startswith(SAY_PREFIX):
        return None
    text = stripped[len(SAY_PREFIX) :].strip()
    return text or None


def next_line(script: Script, history: Sequence[Turn], *, say: str | None = None) -> Line:
    """What the AI says in the next response."""
    if say is not None:
        return Line(text=say, keys=match_keys(script, say))
    spoken: set[str] = set()
    last_script_line: Line | None = None
    for turn in history:
        if turn.role != "assistant":
            continue
        keys = turn.keys or match_keys(script, turn.text or "")
        spoken.update(keys)
        if keys and not set(keys) <= {REMINDER, APOLOGY}:
            last_script_line = Line(
                " ".join(script.text(k) for k in keys if k not in {REMINDER, APOLOGY}), keys
            )
    last_user = _last_user_turn(history)
    if script.empty:
        return _generic(history, last_user)
    if GREETING not in spoken and not any(k.startswith("FRÅGA") for k in spoken) and CLOSING not in spoken:
        keys = tuple(k for k in (GREETING, CONSENT) if k in script.lines)
        if keys:
            return Line(" ".join(script.lines[k] for k in keys), keys)
    closing = Line(script.text(CLOSING), (CLOSING,)) if CLOSING in script.lines else None
    if CLOSING in spoken and closing is not None:
        return closing
    if last_user is not None and last_user.text and is_ending(last_user.text) and closing is not None:
        return closing
    if last_user is not None and not last_user.text and last_script_line is not None:
        # Nothing intelligible came back: ask again rather than skip ahead.
        return last_script_line
    for key, text in script.questions:
        if key not in spoken:
            return Line(text, (key,))
    if closing is not None:
        return closing
    return Line(GENERIC_CLOSING, ())


def _last_user_turn(history: Sequence[Turn]) -> Turn | None:
    """What the customer said since the AI last spoke, as one turn (None if the AI spoke last)."""
    said: list[Turn] = []
    for turn in reversed(history):
        if turn.role == "assistant":
            break
        if turn.role == "user":
            said.append(turn)
    if not said:
        return None
    texts = [turn.text for turn in reversed(said) if turn.text]
    return Turn("user", " ".join(texts) if texts else None)


def _generic(history: Sequence[Turn], last_user: Turn | None) -> Line:
    if not any(turn.role == "assistant" for turn in history):
        return Line(GENERIC_GREETING, ())
    if last_user is not None and last_user.text and is_ending(last_user.text):
        return Line(GENERIC_CLOSING, ())
    return Line(GENERIC_REPLY, ())
