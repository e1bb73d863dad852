"""The demo's closing summary, and its verdict (exit code).

Printed: this week's calls, every week at a glance, the reward ledger over all weeks
(amounts and states), what each store's report of this week says about the weeks
before (the trend, the change from last week, the prediction, in the report's own
Swedish words), and what the webhook backend received.
"""

from __future__ import annotations

import collections
import statistics
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.table import Table

from engine.demo.client import DemoResult
from engine.demo.plan import PlannedCall, WeekPlan
from engine.domain import SessionStatus


class Backend(Protocol):
    """What the summary reads from the demo's webhook backend."""

    bad_signatures: int
    deliveries: int

    def settled(self) -> dict[str, dict[str, Any]]: ...

    def counts(self) -> dict[str, int]: ...


def _check_types(checks: list[dict[str, object]]) -> list[str]:
    return sorted(
        {
            str(c.get("check_type", "")).removeprefix("CHECK_TYPE_").lower()
            for c in checks
            if c.get("is_suspicious")
        }
    )


def verdict(weeks: list[WeekPlan], result: DemoResult, backend: Backend | None = None) -> list[str]:
    """Everything that went differently from what the scenarios planned (empty = success)."""
    problems: list[str] = []
    if not result.settled:
        problems.append("not every call settled before the timeout")
    for plan, got_week in zip(weeks, result.weeks, strict=False):
        for call in plan.calls:
            got = got_week.calls.get(call.verification_id)
            label = f"{call.scenario.name}" + (f" ({_ago(plan.weeks_ago)})" if plan.weeks_ago else "")
            if got is None:
                problems.append(f"{label}: no session")
                continue
            if not call.expected.matches(got.status, got.failure_reason):
                actual = f"{got.status}" + (f" ({got.failure_reason})" if got.failure_reason else "")
                problems.append(f"{label}: planned {call.expected.describe()}, got {actual}")
    if len(result.weeks) != len(weeks):
        problems.append(f"ran {len(result.weeks)} of {len(weeks)} planned weeks")
    for session_id in result.unassessed:
        problems.append(f"session {session_id}: completed but no assessment was stored")
    problems += _ledger_problems(result)
    problems += _report_problems(weeks, result)
    if backend is not None:
        problems += _backend_problems(result, backend)
    return problems


def _report_problems(weeks: list[WeekPlan], result: DemoResult) -> list[str]:
    """Each store's report of this week shows every week in which the store had assessed calls."""
    assessed: dict[str, set[int]] = collections.defaultdict(set)
    for plan, week in zip(weeks, result.weeks, strict=False):
        for call in plan.calls:
            got = week.calls.get(call.verification_id)
            if got is not None and got.assessment is not None:
                assessed[call.store_key].add(plan.weeks_ago)
    out = []
    for store, report in sorted(result.report_data.items()):
        shown = [w for w in _history(report) if w.get("feedback_count")]
        if len(shown) != len(assessed[store]):
            out.append(
                f"{store}: this week's report shows {len(shown)} weeks with calls, "
                f"the store had assessed calls in {len(assessed[store])}"
            )
    return out


def _backend_problems(result: DemoResult, backend: Backend) -> list[str]:
    """Every settled call's call.settled event reached the backend, signed, with its final status."""
    out = []
    if backend.bad_signatures:
        out.append(f"the backend refused {backend.bad_signatures} deliveries with a bad signature")
    events = backend.settled()
    for week in result.weeks:
        for call in week.calls.values():
            if not call.status.terminal:
                continue
            event = events.get(call.session_id)
            if event is None:
                out.append(
                    f"session {call.session_id}: settled, but no call.settled event reached the backend"
                )
            elif event["data"]["status"] != call.status.value:
                out.append(f"session {call.session_id}: call.settled says {event['data']['status']}")
    return out


def _reward_text(entry: dict[str, object] | None) -> str:
    if entry is None:
        return ""
    state = str(entry.get("state", "")).removeprefix("REWARD_STATE_").lower()
    return f"= {entry.get('amount', '0')} {entry.get('currency', '')} {state}"


def _ledger_problems(result: DemoResult) -> list[str]:
    """Every assessed call has a reward entry; none is still held for fraud checks; fraud pays nothing."""
    by_session = {r.get("session_id"): r for r in result.rewards}
    problems = []
    for call in (c for w in result.weeks for c in w.calls.values()):
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


def print_ledger(console: Console, weeks: list[WeekPlan], result: DemoResult) -> None:
    """Entries and amounts per store and state over every week (amounts summed exactly, as Decimal)."""
    store_of = {
        got.session_id: call.store_key
        for plan, week in zip(weeks, result.weeks, strict=False)
        for call in plan.calls
        if (got := week.calls.get(call.verification_id))
    }
    groups: dict[tuple[str, str, str], list[Decimal]] = collections.defaultdict(list)
    for entry in result.rewards:
        state = str(entry.get("state", "")).removeprefix("REWARD_STATE_").lower()
        key = (store_of.get(str(entry.get("session_id")), "?"), state, str(entry.get("currency", "")))
        groups[key].append(Decimal(str(entry.get("amount", "0"))))
    payouts = [w.payout for w in result.weeks if w.payout]
    table = Table(title=f"Reward ledger, all weeks ({len(payouts)} payouts)")
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


def _history(report: dict[str, Any]) -> list[dict[str, Any]]:
    comparison = report.get("historical_comparison") or {}
    return list(comparison.get("weeks") or []) if isinstance(comparison, dict) else []


def _quality(value: object) -> str:
    return "–" if value is None else f"{float(str(value)):.2f}".replace(".", ",")


def _ago(weeks: int) -> str:
    return "this week" if weeks == 0 else "1 week ago" if weeks == 1 else f"{weeks} weeks ago"


def print_weeks(console: Console, weeks: list[WeekPlan], result: DemoResult) -> None:
    """One row per week the demo ran: calls, outcomes, quality, payout."""
    table = Table(title="Weeks (each on the engine's clock set to that week)")
    for col in ("week", "calls", "completed", "assessed", "avg quality", "paid under"):
        table.add_column(col, justify="left" if col in ("week", "paid under") else "right")
    for week in result.weeks:
        calls = list(week.calls.values())
        honest = [c.assessment for c in calls if c.assessment and not c.assessment.get("is_fraudulent")]
        avg = statistics.fmean(float(a.get("overall_quality_score", 0.0)) for a in honest) if honest else None
        table.add_row(
            f"{week.monday.isoformat()} ({_ago(week.weeks_ago)})",
            str(len(calls)),
            str(sum(c.status is SessionStatus.COMPLETED for c in calls)),
            str(len([c for c in calls if c.assessment])),
            _quality(avg),
            week.payout or "",
        )
    console.print(table)


def print_reports(console: Console, result: DemoResult) -> None:
    """What this week's report of each store says about the weeks before it (its own words)."""
    for store, report in sorted(result.report_data.items()):
        points = " → ".join(
            f"{p['week'][5:]}: {int(p.get('feedback_count') or 0)} st, {_quality(p.get('average_quality'))}"
            for p in _history(report)
            if p.get("feedback_count")
        )
        console.print(f"[bold]{store}[/bold] weeks: {points}")
        change = ((report.get("historical_comparison") or {}).get("change") or {}).get("average_quality")
        if change is not None:
            arrow = "▲" if change > 0 else "▼" if change < 0 else "▶"
            console.print(f"  vs last week: average quality {arrow} {change:+.2f}".replace(".", ","))
        for insight in (report.get("predictive_insights") or [])[:2]:
            statement = insight.get("statement")
            if statement:
                confidence = insight.get("confidence_text") or ""
                console.print(f"  prognos: {statement} {confidence}".rstrip())


def print_backend(console: Console, backend: Backend) -> None:
    counts = backend.counts()
    console.print(
        f"backend: {sum(counts.values())} signed events received ({backend.deliveries} deliveries, "
        f"{backend.bad_signatures} refused): "
        + ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items()))
    )


def print_summary(
    console: Console,
    weeks: list[WeekPlan],
    result: DemoResult,
    backend: Backend | None,
    out_dir: Path,
    elapsed_s: float,
) -> int:
    plan: list[PlannedCall] = weeks[-1].calls
    table = Table(title="Calls this week")
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
    print_weeks(console, weeks, result)
    print_ledger(console, weeks, result)
    print_reports(console, result)
    if backend is not None:
        print_backend(console, backend)
    for path in result.reports[-len(result.report_data) :] if result.report_data else result.reports:
        console.print(f"report: {path}")
    console.print(f"reports (every week's) and logs are in {out_dir}; took {elapsed_s:.0f} s")
    problems = verdict(weeks, result, backend)
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
