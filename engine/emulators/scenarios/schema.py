"""Scenario file schema: who answers, what they say, when they hang up, which ones commit fraud.

A scenario file (TOML or YAML) has four top-level keys, all optional:
``version`` (1), ``unknown_number`` (how a number no scenario names behaves),
``stores`` (the store catalog personas draw departments and campaigns from)
and ``scenarios`` (one per phone number). ``docs/emulators.md`` documents
every field; the structs below are the single definition.

Times are *virtual*: the emulator's speed factor divides them.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

Outcome = Literal["answer", "no-answer", "busy", "failed", "voicemail"]
Persona = Literal["positive", "critical", "brief", "detailed", "vague", "english"]
Style = Literal["paraphrase", "verbatim"]
FraudKind = Literal["copied_script", "phantom_department", "outside_hours", "phone_reuse"]


class _Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class Turn(_Strict):
    """One customer turn, the reply to one AI turn (a plain string in ``answers`` means ``{say = "…"}``)."""

    say: str | None = None
    """What the customer says (Swedish)."""
    silence: bool = False
    """Say nothing this turn (the AI will nudge; the next AI turn gets the next entry)."""
    barge_in_ms: int | None = None
    """Start speaking once this much of the AI turn's audio has played, i.e. while the AI still talks."""
    delay_ms: int | None = None
    """Pause after the AI's turn before replying (default: the scenario's ``reply_delay_ms``)."""
    dtmf: str | None = None
    """Keypad digits pressed this turn (after speaking, if ``say`` is set too)."""
    hangup: bool = False
    """Hang up this turn (after speaking/pressing, if those are set)."""


class Attempt(_Strict):
    """How the phone is answered on one dial attempt."""

    outcome: Outcome = "answer"
    ring_seconds: float = 2.0
    """Ringing time before the outcome (answer, voicemail, busy, failed). A ``no-answer`` rings for
    the call's ``Timeout``; an ``answer`` that would ring longer than ``Timeout`` becomes ``no-answer``."""


class Gap(_Strict):
    """A network hold-up: the customer's frames stall for ``duration_ms`` and then arrive in a burst."""

    at_ms: int
    duration_ms: int


class Impairments(_Strict):
    """Network impairments on the customer → engine media (recorded in the call log)."""

    drop_frames: list[int] = []
    """Inbound ``chunk`` numbers that are lost (counters still advance, as on a real network)."""
    drop_every: int = 0
    """Lose every N-th inbound frame (0 = off)."""
    drop_rate: float = 0.0
    """Lose each inbound frame with this probability (seeded per call, reproducible)."""
    jitter_ms: int = 0
    """Delay each inbound frame by a random 0..jitter_ms (order kept)."""
    gaps: list[Gap] = []
    silence_gaps: list[Gap] = []
    """Windows in which frames keep arriving on time but carry silence (the caller's audio is lost)."""


class Verification(_Strict):
    """A purchase verification the demo seeds for this phone (it is what makes the engine call)."""

    store: str
    """A ``stores[].id``."""
    purchase_time: dt.datetime
    """RFC 3339 local time with offset, e.g. ``2026-11-23T14:05:00+01:00``."""
    amount_sek: float


class Store(_Strict):
    id: str
    name: str
    kind: str = ""
    departments: list[str] = []
    campaigns: list[str] = []
    opening_hours: dict[str, str] = {}
    """Weekday (``mon`` … ``sun``) → ``HH:MM-HH:MM``; a missing day is closed."""


class Scenario(_Strict):
    name: str
    phone: str
    """E.164; the number the engine dials."""
    description: str = ""
    tags: list[str] = []
    attempts: list[Attempt] = []
    """Dial attempt n (0-based, counted per phone) uses ``attempts[min(n, len - 1)]``; empty = answer."""
    consent: str | Turn = "Ja, det går bra."
    """Reply to the AI's first turn (greeting + consent question)."""
    answers: list[str | Turn] = []
    """Replies to the following AI turns, in order."""
    persona: Persona | None = None
    """Once ``answers`` run out, build replies from the departments/campaigns named in the question
    (``vague``: a vague answer first, details when asked again; ``english``: answers in English)."""
    goodbye: str | None = None
    """Said after the AI's closing (a turn containing "hej då")."""
    reply_delay_ms: int = 700
    hangup_after_seconds: float | None = None
    """Hang up this long after answering, whatever is going on."""
    copy_answers_from: str | None = None
    """Another scenario's ``name``: repeat its consent and answers word for word (fraud persona)."""
    fraud: FraudKind | None = None
    """Which fraud this caller commits, so tests and the demo know what to expect."""
    verifications: list[Verification] = []
    voicemail_greeting: str = "Hej, du har kommit till min röstbrevlåda. Lämna ett meddelande efter tonen."
    impairments: Impairments = msgspec.field(default_factory=Impairments)
    call_back_dtmf: str | None = None
    """On a call-back (the customer rings our number), the key pressed when a ``<Gather>`` asks."""
    expect: str | None = None
    """The outcome this scenario plans, ``status`` or ``status/failure_reason`` (e.g.
    ``abandoned/declined``), where the demo cannot tell it from the turns alone."""


class UnknownNumber(_Strict):
    """A number no scenario names: a silent caller (AMD says ``unknown``)."""

    ring_seconds: float = 1.0
    hangup_after_seconds: float = 30.0


class RealtimeModel(_Strict):
    """How the emulated Realtime model behaves in ``callengine emulate`` (defaults: a real model's way)."""

    style: Style = "paraphrase"
    """``verbatim``: says the configured question texts and fixed lines (tests that need exact text)."""
    tools: bool = True
    end_call_during_audio: bool = False
    speaks_after_end_call: bool = False
    bad_arguments: bool = False
    split_goodbye: bool = False


class ScenarioFile(_Strict):
    version: int = 1
    realtime: RealtimeModel | None = None
    unknown_number: UnknownNumber | None = None
    stores: list[Store] = []
    scenarios: list[Scenario] = []
