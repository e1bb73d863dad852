"""The emulated AI voice: pursues the instructions' goals the way a real model does, tools included.

What to do next is a pure function of the goals (:mod:`goals`), the
conversation so far and the :class:`ModelBehaviour`: open with the disclosure
and consent question; on consent call ``record_consent`` and wait for its
output; ask each question in its own words, one follow-up to a vague answer,
report ``question_answered`` with the next line; close with the reward and a
goodbye in the same response as ``end_call``. A refusal, an opt-out, a wrong
person, a call-back wish or a language it cannot speak end the call with
that reason. It waits while one of its calls has no output. Every assistant
turn keeps the *moves* it made (``keys``), so the state is rebuilt from the
conversation alone — also after a reconnect, when earlier lines come back as
text (matched to the lines this process spoke, see :func:`remember`).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import random
import re
from collections.abc import Sequence

from engine.emulators.openai.behaviour import ModelBehaviour
from engine.emulators.openai.goals import Goals, Question
from engine.emulators.openai.phrasing import Phrasing, spell_numbers
from engine.emulators.openai.understanding import Intent, intent_of, is_vague, language_of

GENERIC_GREETING = "Hej! Vad kan jag hjälpa dig med i dag?"
GENERIC_REPLY = "Tack, jag förstår. Berätta gärna mer."
GENERIC_CLOSING = "Tack för samtalet. Hej då!"
REMINDER_GOAL = "MÅL: påminnelse"
_ENDING_MOVES = frozenset(
    {"closing", "declined", "opted_out", "wrong_person", "callback", "language_barrier"}
)
_MIN_PREFIX_MATCH = 8


@dataclasses.dataclass(frozen=True)
class Call:
    name: str
    arguments: str


@dataclasses.dataclass(frozen=True)
class Turn:
    """One conversation item as the interviewer sees it."""

    role: str
    """``user``, ``assistant``, ``function_call`` or ``function_call_output``."""
    text: str | None = None
    """User: the decoded transcript (None = nothing intelligible). Assistant: the spoken text."""
    keys: tuple[str, ...] = ()
    """Assistant: the moves this line made (``opening``, ``question:q1``, ``followup:q1``, ``closing``…)."""
    name: str | None = None
    arguments: str | None = None
    call_id: str | None = None
    output: str | None = None


@dataclasses.dataclass(frozen=True)
class Line:
    """One response: what is said (may be nothing) and the tool calls made with it."""

    text: str | None
    keys: tuple[str, ...] = ()
    calls: tuple[Call, ...] = ()
    calls_during_audio: bool = False


# Lines this process spoke → their moves, so replayed text items (a restored session) keep their meaning.
_SPOKEN: collections.OrderedDict[str, tuple[str, ...]] = collections.OrderedDict()
_SPOKEN_MAX = 20_000


def remember(text: str, keys: tuple[str, ...]) -> None:
    _SPOKEN[text] = keys
    _SPOKEN.move_to_end(text)
    while len(_SPOKEN) > _SPOKEN_MAX:
        _SPOKEN.popitem(last=False)


def recall(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    if text in _SPOKEN:
        return _SPOKEN[text]
    if len(text) >= _MIN_PREFIX_MATCH:  # a line cut short by the customer, replayed as far as it played
        for spoken, keys in reversed(_SPOKEN.items()):
            if spoken.startswith(text):
                return keys
    return ()


def is_reminder(instructions: str | None) -> bool:
    return bool(instructions) and instructions.strip().startswith(REMINDER_GOAL)  # type: ignore[union-attr]


@dataclasses.dataclass
class _State:
    opened: bool = False
    consent: Intent | None = None
    ended: bool = False
    goodbye_pending: str | None = None
    """split_goodbye: the goodbye was said, the end_call reason still to call."""
    asked: list[str] = dataclasses.field(default_factory=list)
    followed_up: set[str] = dataclasses.field(default_factory=set)
    reported: set[str] = dataclasses.field(default_factory=set)
    waiting: bool = False
    rejected: Call | None = None
    """The last call the engine rejected (its output says ok=false)."""
    bad_args_used: bool = False
    user_since: list[str | None] = dataclasses.field(default_factory=list)
    """Customer turns since the AI last spoke or called."""
    lang: str = "sv"


def _state(history: Sequence[Turn]) -> _State:
    st = _State()
    outputs = {t.call_id: t.output for t in history if t.role == "function_call_output" and t.call_id}
    for turn in history:
        if turn.role == "assistant":
            keys = turn.keys or recall(turn.text) or (("opening",) if not st.opened else ())
            st.user_since = []
            for key in keys:
                kind, _, qid = key.partition(":")
                if kind == "opening":
                    st.opened = True
                elif kind == "question" and qid not in st.asked:
                    st.asked.append(qid)
                elif kind == "followup":
                    st.followed_up.add(qid)
                elif kind in _ENDING_MOVES:
                    st.goodbye_pending = kind
            st.opened = True
        elif turn.role == "function_call":
            st.user_since = []
            output = outputs.get(turn.call_id) if turn.call_id else None
            if output is None:
                st.waiting = True
                continue
            ok = _ok(output)
            if turn.name == "record_consent" and ok:
                st.consent = Intent.CONSENT if '"consent": true' in _canon(turn.arguments) else Intent.DECLINE
            elif turn.name == "question_answered" and ok:
                st.reported.add(_arg(turn.arguments, "question_id"))
            elif turn.name == "end_call":
                st.bad_args_used = True
                if ok:
                    st.ended = True
                    st.goodbye_pending = None
            st.rejected = None if ok else Call(turn.name or "", turn.arguments or "")
        elif turn.role == "user":
            st.user_since.append(turn.text)
            st.rejected = None
            lang = language_of(turn.text or "")
            if lang in ("sv", "en"):
                st.lang = lang
    st.waiting = any(t.role == "function_call" and t.call_id not in outputs for t in history)
    return st


def _canon(arguments: str | None) -> str:
    try:
        return json.dumps(json.loads(arguments or "{}"), sort_keys=True)
    except json.JSONDecodeError:
        return ""


def _arg(arguments: str | None, key: str) -> str:
    try:
        value = json.loads(arguments or "{}").get(key)
    except (json.JSONDecodeError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


def _ok(output: str | None) -> bool:
    try:
        return bool(json.loads(output or "{}").get("ok", True))
    except (json.JSONDecodeError, AttributeError):
        return True


def _call(name: str, **arguments: object) -> Call:
    return Call(name, json.dumps(arguments, ensure_ascii=False))


_CALLBACK_TIMES = (
    ("i morgon", 1440),
    ("imorgon", 1440),
    ("tomorrow", 1440),
    ("om en timme", 60),
    ("in an hour", 60),
)


class Interviewer:
    def __init__(self, goals: Goals | None, behaviour: ModelBehaviour, rng: random.Random) -> None:
        self.goals = goals
        self.b = behaviour
        self.say = Phrasing(goals, rng, verbatim=behaviour.style == "verbatim")

    def next_line(self, history: Sequence[Turn], *, instructions: str | None = None) -> Line:
        """What the next response says and calls."""
        line = self._decide(history, reminder=is_reminder(instructions))
        if line.text is not None and self.b.style == "paraphrase":
            line = dataclasses.replace(line, text=spell_numbers(line.text, "sv"))
        if line.text:
            remember(line.text, line.keys)
        return line

    # ------------------------------------------------------------------ decisions
    def _decide(self, history: Sequence[Turn], *, reminder: bool) -> Line:
        if self.goals is None:
            return self._generic(history)
        st = _state(history)
        if self.goals.consented and st.consent is None:
            st.consent = Intent.CONSENT  # a restored socket: the consent exchange happened already
        if st.waiting:
            return Line(None)  # it waits for the outputs of its own calls
        if st.ended:
            if st.user_since and self.b.speaks_after_end_call:
                return Line(self.say.after_end(), ("after_end",))
            return Line(None)
        if st.rejected is not None:
            return self._corrected(st)
        if st.goodbye_pending is not None:
            if self.b.split_goodbye and self.b.tools:
                return Line(None, calls=(self._end_call(st, _REASON_BY_MOVE[st.goodbye_pending]),))
            if not self.b.tools and st.user_since and self.b.speaks_after_end_call:
                return Line(self.say.after_end(), ("after_end",))
            return Line(None)
        if reminder:
            return Line(self.say.reminder(self._current(st), st.lang), ("reminder",))
        if not st.opened:
            return Line(self.say.opening(), ("opening",))
        said = [t for t in st.user_since]
        text = " ".join(t for t in said if t) or None
        if st.consent is None and not st.asked:
            if not said:
                # Asked to speak again before any answer (e.g. a restored session whose opening
                # was cut): a model says the opening again rather than staying silent.
                return Line(self.say.opening(), ("opening",))
            return self._consent(st, text)
        if st.consent is Intent.CONSENT and not st.asked and said and self.goals.consented:
            return self._answer(st, text)  # restored: the customer is answering what was asked
        if st.consent is Intent.DECLINE:
            return Line(None)
        if not st.asked:
            return self._ask(st, self._next_question(st, None), first=True, report=None)
        if not said:
            # response.create with nothing new from the customer (a restored session, an extra
            # request): a real model speaks anyway, so ask the current question again.
            return Line(self.say.resume(self._current(st), st.lang), ("again",))
        return self._answer(st, text)

    def _consent(self, st: _State, text: str | None) -> Line:
        lang = language_of(text or "")
        if lang not in (None, "sv", "en"):
            return self._end(st, "language_barrier", self.say.language_barrier())
        intent = intent_of(text, consent_question=True)
        if intent is Intent.NOTHING:
            return Line(self.say.consent_again(st.lang), ("again",))
        if intent is Intent.OPT_OUT:
            return self._end(st, "opted_out", self.say.opted_out(st.lang))
        if intent is Intent.WRONG_PERSON:
            return self._end(st, "wrong_person", self.say.wrong_person())
        if intent is Intent.CALLBACK:
            return self._end(st, "callback", self.say.callback(), minutes=_callback_minutes(text))
        if intent is Intent.DECLINE:
            extra = (_call("record_consent", consent=False),) if self.b.tools else ()
            return self._end(st, "declined", self.say.declined(), before=extra)
        if self.b.tools:
            return Line(None, calls=(_call("record_consent", consent=True),))
        return self._ask(st, self._next_question(st, None), first=True, report=None)

    def _answer(self, st: _State, text: str | None) -> Line:
        current = self._current(st)
        lang = language_of(text or "")
        if lang not in (None, "sv", "en"):
            return self._end(st, "language_barrier", self.say.language_barrier())
        intent = intent_of(text, consent_question=False)
        if intent is Intent.NOTHING:
            return Line(self.say.again(current, st.lang), ("again",))
        if intent is Intent.OPT_OUT:
            return self._end(st, "opted_out", self.say.opted_out(st.lang))
        if intent is Intent.CALLBACK:
            return self._end(st, "callback", self.say.callback(), minutes=_callback_minutes(text))
        if intent is Intent.GOODBYE:
            report = current.id if current and _has_answer(text) else None
            return self._end(st, "closing", self.say.closing(st.lang), report=report)
        if (
            current is not None
            and self.b.style == "paraphrase"
            and current.id not in st.followed_up
            and is_vague(text or "")
        ):
            return Line(self.say.follow_up(current, st.lang), (f"followup:{current.id}",))
        nxt = self._next_question(st, current)
        if nxt is None:
            return self._end(st, "closing", self.say.closing(st.lang), report=current.id if current else None)
        return self._ask(st, nxt, first=False, report=current.id if current else None)

    # ------------------------------------------------------------------ building lines
    def _ask(self, st: _State, q: Question | None, *, first: bool, report: str | None) -> Line:
        if q is None:
            return self._end(st, "closing", self.say.closing(st.lang), report=report)
        resumed = first and bool(self.goals and self.goals.resumed)
        text = self.say.question(q, first=first, lang=st.lang, resumed=resumed)
        calls = (_call("question_answered", question_id=report),) if report and self.b.tools else ()
        return Line(text, (f"question:{q.id}",), calls)

    def _end(
        self,
        st: _State,
        move: str,
        text: str,
        *,
        report: str | None = None,
        minutes: int | None = None,
        before: tuple[Call, ...] = (),
    ) -> Line:
        if not self.b.tools:
            return Line(text, (move,))
        calls = list(before)
        if report:
            calls.append(_call("question_answered", question_id=report))
        if not self.b.split_goodbye:
            calls.append(self._end_call(st, _REASON_BY_MOVE[move], minutes))
        return Line(text, (move,), tuple(calls), calls_during_audio=self.b.end_call_during_audio)

    def _end_call(self, st: _State, reason: str, minutes: int | None = None) -> Call:
        if self.b.bad_arguments and not st.bad_args_used:
            return _call("end_call", reason="finished")  # not a reason the tool accepts
        if minutes is not None:
            return _call("end_call", reason=reason, callback_in_minutes=minutes)
        return _call("end_call", reason=reason)

    def _corrected(self, st: _State) -> Line:
        """After an error output: the call again, with the arguments it meant."""
        if st.rejected is not None and st.rejected.name == "end_call":
            reason = _REASON_BY_MOVE.get(st.goodbye_pending or "closing", "completed")
            return Line(None, calls=(_call("end_call", reason=reason),))
        return Line(None)

    def _current(self, st: _State) -> Question | None:
        if not st.asked or self.goals is None:
            return None
        return self.goals.question(st.asked[-1])

    def _next_question(self, st: _State, current: Question | None) -> Question | None:
        assert self.goals is not None
        done = set(st.asked) | set(self.goals.answered)
        return next((q for q in self.goals.questions if q.id not in done), None)

    def _generic(self, history: Sequence[Turn]) -> Line:
        if not any(t.role == "assistant" for t in history):
            return Line(GENERIC_GREETING)
        last = next((t for t in reversed(history) if t.role == "user"), None)
        if last is not None and intent_of(last.text, consent_question=False) is Intent.GOODBYE:
            return Line(GENERIC_CLOSING)
        return Line(GENERIC_REPLY)


_REASON_BY_MOVE = {
    "closing": "completed",
    "declined": "declined",
    "opted_out": "opted_out",
    "wrong_person": "wrong_person",
    "callback": "callback_requested",
    "language_barrier": "language_barrier",
}


def _callback_minutes(text: str | None) -> int | None:
    lowered = (text or "").lower()
    return next((m for phrase, m in _CALLBACK_TIMES if phrase in lowered), None)


_GOODBYE_ONLY = re.compile(r"(?i)^\W*(nu\s+)?(måste jag gå|hej då|hejdå|adjö|goodbye|bye)\W*$")


def _has_answer(text: str | None) -> bool:
    """A goodbye that also answers ("Mejeri var bra. Nu måste jag gå, hej då!")."""
    parts = [p for p in re.split(r"[.!?,]", text or "") if p.strip()]
    return any(not _GOODBYE_ONLY.match(p) and len(p.split()) >= 2 for p in parts)
