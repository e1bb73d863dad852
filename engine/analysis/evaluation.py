"""Fraud-detection evaluation on the emulator's scenario set (precision / recall per check type).

Each answered scenario call becomes a transcript the way the emulators would
produce it: the store's profile (from the scenario store catalog) asks up to
three questions, the simulated customer answers with its scripted answers or
its persona. Calls are checked in purchase-time order with the evidence the
service would find (earlier calls of the same phone, earlier signatures).
Numbers go to docs/analysis.md; a test asserts the targets.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from typing import Any

from engine.analysis.config import DEFAULT_CONFIG, AnalysisConfig
from engine.analysis.context import BusinessContext, validate_business_context
from engine.analysis.fraud import run_fraud_checks
from engine.analysis.llm import StructuredLLM
from engine.analysis.minhash import signature
from engine.analysis.models import (
    CallFacts,
    DuplicateCandidate,
    FraudVerdict,
    PatternEvidence,
    PhoneUse,
    TranscriptLine,
)
from engine.analysis.signals import customer_answers
from engine.domain import CheckType, MessageType, SessionStatus, Speaker
from engine.emulators.customer.persona import FALLBACK_ANSWER, persona_answer
from engine.emulators.scenarios.loader import ScenarioSet
from engine.emulators.scenarios.profile import business_context
from engine.emulators.scenarios.schema import Scenario, Store, Turn

EXPECTED_CHECK: dict[str, CheckType] = {
    "copied_script": CheckType.PATTERN,
    "phantom_department": CheckType.CONTEXT,
    "outside_hours": CheckType.TIMING,
    "phone_reuse": CheckType.PATTERN,
}


def store_context(store: Store) -> BusinessContext:
    """A business profile as a store owner would enter it from the scenario store catalog."""
    return validate_business_context(business_context(store))


def transcript(scenario: Scenario, ctx: BusinessContext, store: Store) -> list[TranscriptLine]:
    rng = random.Random(scenario.name)
    consent = scenario.consent if isinstance(scenario.consent, str) else (scenario.consent.say or "")
    lines = [
        TranscriptLine(
            Speaker.AI, "Hej! Är det okej att jag ställer några korta frågor?", 0, 0, MessageType.SYSTEM
        ),
        TranscriptLine(Speaker.CUSTOMER, consent, 1, 1500, MessageType.RESPONSE),
    ]
    for i, q in enumerate(ctx.question_configuration.questions):
        answer: str | None
        if i < len(scenario.answers):
            raw = scenario.answers[i]
            answer = raw if isinstance(raw, str) else (raw.say if isinstance(raw, Turn) else None)
        elif scenario.persona:
            answer = persona_answer(scenario.persona, q.text, store.departments, store.campaigns, rng)
        else:
            answer = FALLBACK_ANSWER
        lines.append(TranscriptLine(Speaker.AI, q.text, 2 + 2 * i, 4000 * (i + 1), MessageType.QUESTION))
        if answer:
            lines.append(
                TranscriptLine(
                    Speaker.CUSTOMER, answer, 3 + 2 * i, 4000 * (i + 1) + 1500, MessageType.RESPONSE
                )
            )
    return lines


def _answered(s: Scenario) -> bool:
    first = s.attempts[-1].outcome if s.attempts else "answer"
    consent_text = s.consent if isinstance(s.consent, str) else (s.consent.say or "")
    opted_out = "ring inte igen" in consent_text.lower() or (
        not isinstance(s.consent, str) and s.consent.dtmf
    )
    return first == "answer" and not opted_out and bool(s.answers or s.persona)


@dataclasses.dataclass(frozen=True)
class CallOutcome:
    scenario: str
    fraud: str | None
    verdict: FraudVerdict

    def flagged_by(self, check: CheckType) -> bool:
        return any(c.check_type == check and c.is_suspicious for c in self.verdict.checks)

    @property
    def flagged(self) -> bool:
        return any(c.is_suspicious for c in self.verdict.checks)


@dataclasses.dataclass(frozen=True)
class Evaluation:
    calls: list[CallOutcome]

    def personas(self) -> dict[str, list[CallOutcome]]:
        out: dict[str, list[CallOutcome]] = {}
        for c in self.calls:
            out.setdefault(c.scenario, []).append(c)
        return out

    def summary(self) -> dict[str, Any]:
        personas = self.personas()
        frauds = {n: cs for n, cs in personas.items() if cs[0].fraud}
        honest = {n: cs for n, cs in personas.items() if not cs[0].fraud}
        caught_right = {
            n for n, cs in frauds.items() if any(c.flagged_by(EXPECTED_CHECK[c.fraud or ""]) for c in cs)
        }
        caught_fraudulent = {n for n, cs in frauds.items() if any(c.verdict.is_fraudulent for c in cs)}
        honest_fraudulent = {n for n, cs in honest.items() if any(c.verdict.is_fraudulent for c in cs)}
        honest_flagged = {n for n, cs in honest.items() if any(c.flagged for c in cs)}
        flagged = len(caught_right | {n for n, cs in frauds.items() if any(c.flagged for c in cs)}) + len(
            honest_flagged
        )
        fraudulent = len(caught_fraudulent) + len(honest_fraudulent)
        return {
            "honest_personas": len(honest),
            "fraud_personas": len(frauds),
            "recall_right_check": len(caught_right) / len(frauds) if frauds else 1.0,
            "recall_fraudulent": len(caught_fraudulent) / len(frauds) if frauds else 1.0,
            "precision_fraudulent": len(caught_fraudulent) / fraudulent if fraudulent else 1.0,
            "precision_flagged": (flagged - len(honest_flagged)) / flagged if flagged else 1.0,
            "honest_fraudulent": sorted(honest_fraudulent),
            "honest_flagged": sorted(honest_flagged),
            "missed": sorted(set(frauds) - caught_right),
        }


async def evaluate(
    scenarios: ScenarioSet, llm: StructuredLLM | None, config: AnalysisConfig = DEFAULT_CONFIG
) -> Evaluation:
    contexts = {s.id: store_context(s) for s in scenarios.stores}
    calls = sorted(
        ((sc, v) for sc, v in scenarios.verifications() if _answered(sc)), key=lambda p: p[1].purchase_time
    )
    history: list[tuple[str, str, str, dt.datetime, list[int]]] = []  # (session, phone, store, at, signature)
    outcomes: list[CallOutcome] = []
    fc = config.fraud
    for i, (sc, v) in enumerate(calls):
        store = scenarios.store(v.store)
        ctx = contexts[v.store]
        lines = transcript(sc, ctx, store)
        call_at = v.purchase_time + dt.timedelta(minutes=30)
        session_id = f"call-{i}"
        facts = CallFacts(
            session_id=session_id,
            store_id=v.store,
            status=SessionStatus.COMPLETED,
            call_initiated_at=call_at,
            duration_seconds=90.0,
            purchase_at=v.purchase_time,
            phone_index=sc.phone,
        )
        window = call_at - dt.timedelta(days=fc.phone_window_days)
        evidence = PatternEvidence(
            same_phone=[
                PhoneUse(s, st, at) for s, ph, st, at, _ in history if ph == sc.phone and at >= window
            ],
            recent_signatures=[
                DuplicateCandidate(s, ph, sig, same_store=st == v.store)
                for s, ph, st, at, sig in history
                if at >= window
            ],
        )
        verdict = await run_fraud_checks(lines, ctx, facts, evidence, llm, config)
        text = " ".join(customer_answers(lines))
        sig = signature(text, shingle_words=fc.shingle_words, permutations=fc.minhash_permutations)
        history.append((session_id, sc.phone, v.store, call_at, sig))
        outcomes.append(CallOutcome(sc.name, sc.fraud, verdict))
    return Evaluation(outcomes)
