"""The demo's closing summary, and its verdict (exit code)."""

from __future__ import annotations

import collections
import statistics
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

from engine.demo.client import DemoResult
from engine.demo.plan import PlannedCall


def _check_types(checks: list[dict[str, object]]) -> list[str]:
    return sorted(
        {
            str(c.get("check_type", "")).removeprefix("CHECK_TYPE_").lower()
            for c in checks
            if c.get("is_suspicious")
        }
    )


def verdict(plan: list[PlannedCall], result: DemoResult) -> list[str]:
    """Everything that went differently from what the scenarios planned (empty = success)."""
    problems: list[str] = []
    if not result.settled:
        problems.append("not every call settled before the timeout")
    for call in plan:
        got = result.calls.get(call.verification_id)
        if got is None:
            problems.append(f"{call.scenario.name}: no session")
            continue
        if not call.expected.matches(got.status, got.failure_reason):
            actual = f"{got.status}" + (f" ({got.failure_reason})" if got.failure_reason else "")
            problems.append(f"{call.scenario.name}: planned {call.expected.describe()}, got {actual}")
    for session_id in result.unassessed:
        problems.append(f"session {session_id}: completed but no assessment was stored")
    problems += _ledger_problems(result)
    return problems


def _reward_text(entry: dict[str, object] | None) -> str:
    if entry is None:
        return ""
    state = str(entry.get("state", "")).removeprefix("REWARD_STATE_").lower()
    return f"= {entry.get('amount', '0')} {entry.get('currency', '')} {state}"


def _ledger_problems(result: DemoResult) -> list[str]:
    """Every assessed call has a reward entry; none is still held for fraud checks; fraud pays nothing."""
    by_session = {r.get("session_id"): r for r in result.rewards}
    problems = []
    for call in result.calls.values():
        if call.assessment is None:
            continue
        entry = by_session.get(call.session_id)
        state = str((entry or {}).get("state", "")).removeprefix("REWARD_STATE_").lower()
        if entry is None:
            problems.append(f"session {call.session_id}: assessed but no reward ledger entry")
        elif state == "pending":
            problems.append(f"session {call.session_id}: reward still held, its fraud checks never finished")
        elif call.assessment.get("is_fraudulent") and state != "withheld":
            problems.append(f"session {call.session_id}: fraudulent but its reward is {state}")
    return problems


def print_ledger(console: Console, plan: list[PlannedCall], result: DemoResult) -> None:
    """Entries and amounts per store and state (amounts summed exactly, as Decimal)."""
    store_of = {
        got.session_id: call.store_key for call in plan if (got := result.calls.get(call.verification_id))
    }
    groups: dict[tuple[str, str, str], list[Decimal]] = collections.defaultdict(list)
    for entry in result.rewards:
        state = str(entry.get("state", "")).removeprefix("REWARD_STATE_").lower()
        key = (store_of.get(str(entry.get("session_id")), "?"), state, str(entry.get("currency", "")))
        groups[key].append(Decimal(str(entry.get("amount", "0"))))
    table = Table(title="Reward ledger" + (f" (paid under {result.payout})" if result.payout else ""))
    for col in ("store", "state", "entries", "amount"):
        table.add_column(col, justify="right" if col in ("entries", "amount") else "left")
    for (store, state, currency), amounts in sorted(groups.items()):
        table.add_row(store, state, str(len(amounts)), f"{sum(amounts, Decimal(0))} {currency}")
    console.print(table)
    totals: dict[tuple[str, str], Decimal] = collections.defaultdict(Decimal)
    for (_, state, currency), amounts in groups.items():
        totals[(state, currency)] += sum(amounts, Decimal(0))
    console.print(
        "rewards: "
        + (", ".join(f"{state} {amount} {cur}" for (state, cur), amount in sorted(totals.items())) or "none")
    )


def print_summary(
    console: Console, plan: list[PlannedCall], result: DemoResult, out_dir: Path, elapsed_s: float
) -> int:
    table = Table(title="Calls")
    for col in (
        "scenario",
        "store",
        "planned",
        "outcome",
        "retries",
        "quality",
        "reward",
        "fraud flags",
    ):
        table.add_column(col)
    ledger = {str(r.get("session_id")): r for r in result.rewards}
    qualities: list[float] = []
    rewards: list[float] = []
    flagged: list[tuple[PlannedCall, list[str], str]] = []
    for call in plan:
        got = result.calls.get(call.verification_id)
        if got is None:
            table.add_row(call.scenario.name, call.store_key, call.expected.describe(), "—", "", "", "", "")
            continue
        outcome = f"{got.status}" + (f" ({got.failure_reason})" if got.failure_reason else "")
        quality = reward = ""
        fraud = ""
        if got.assessment:
            q = float(got.assessment.get("overall_quality_score", 0.0))
            r = float(got.assessment.get("reward_percentage", 0.0))
            qualities.append(q)
            rewards.append(r)
            quality, reward = f"{q:.2f}", f"{r:.2f}"
            if got.assessment.get("is_fraudulent"):
                types = _check_types(got.fraud_checks)
                reasons = got.assessment.get("fraud_reasons") or []
                fraud = ", ".join(types) or "yes"
                flagged.append((call, types, _reason_text(reasons)))
        ok = call.expected.matches(got.status, got.failure_reason)
        style = "" if ok else "[red]"
        table.add_row(
            call.scenario.name,
            call.store_key,
            call.expected.describe(),
            f"{style}{outcome}",
            str(got.retry_count),
            quality,
            (f"{reward} % " if reward else "") + _reward_text(ledger.get(got.session_id)),
            fraud + (f" (planned: {call.planned_fraud})" if call.planned_fraud else ""),
        )
    console.print(table)
    counts = collections.Counter(c.status.value for c in result.calls.values())
    console.print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if qualities:
        console.print(
            f"assessments: {len(qualities)}; average quality {statistics.fmean(qualities):.2f}; "
            f"rewards {min(rewards):.2f}–{max(rewards):.2f} % (mean {statistics.fmean(rewards):.2f} %)"
        )
    planned_frauds = [c for c in plan if c.planned_fraud]
    caught = [c for c, _, _ in flagged if c.planned_fraud]
    console.print(
        f"fraud: {len(flagged)} calls flagged; {len(caught)} of {len(planned_frauds)} planted frauds caught"
    )
    for call, types, reasons in flagged:
        console.print(f"  {call.scenario.name}: {', '.join(types) or '—'} — {reasons}")
    print_ledger(console, plan, result)
    for path in result.reports:
        console.print(f"report: {path}")
    console.print(f"reports and logs are in {out_dir}; took {elapsed_s:.0f} s")
    problems = verdict(plan, result)
    if problems:
        console.print("[red]unplanned:[/red]")
        for problem in problems:
            console.print(f"  - {problem}")
        return 1
    console.print("[green]every call went as its scenario planned[/green]")
    return 0


def _reason_text(reasons: object) -> str:
    if isinstance(reasons, list):
        parts = []
        for r in reasons[:3]:
            if isinstance(r, dict):
                parts.append(str(r.get("reason") or r.get("indicator") or r.get("check_type") or r))
            else:
                parts.append(str(r))
        return "; ".join(parts)
    return str(reasons)
