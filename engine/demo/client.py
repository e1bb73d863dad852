"""The demo's backend service: everything it does goes through the gRPC API.

It runs the planned weeks one after another (:meth:`DemoClient.run`): before each, it
sets the engine's shifted clock (the offset file every engine process reads) to that
week, then seeds the week's verifications, dispatches its calls, follows them, waits
for their analysis, pays the approved rewards and builds the week's reports, all as a
backend would, so every row of every week is written by the engine itself.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime as dt
import time
import uuid
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format, struct_pb2, timestamp_pb2
from rich.console import Console
from rich.live import Live
from rich.table import Table

from engine.api import tls
from engine.api.gen import callengine_pb2 as pb
from engine.api.gen import callengine_pb2_grpc as pb_grpc
from engine.api.retry import RetryUnavailable
from engine.clock import SystemClock, write_offset
from engine.config import Settings
from engine.demo.plan import BUSINESS_ID, BUSINESS_NAME, PlannedCall, WeekPlan, business_context, store_uuid
from engine.domain import Role, SessionStatus
from engine.emulators.scenarios.loader import ScenarioSet
from engine.emulators.scenarios.schema import Store
from engine.events.types import is_settled

Metadata = tuple[tuple[str, str], ...]

STATUS_FROM_PB = {
    pb.SESSION_STATUS_PENDING: SessionStatus.PENDING,
    pb.SESSION_STATUS_IN_PROGRESS: SessionStatus.IN_PROGRESS,
    pb.SESSION_STATUS_COMPLETED: SessionStatus.COMPLETED,
    pb.SESSION_STATUS_FAILED: SessionStatus.FAILED,
    pb.SESSION_STATUS_ABANDONED: SessionStatus.ABANDONED,
}


@dataclasses.dataclass
class CallResult:
    session_id: str
    status: SessionStatus
    failure_reason: str | None
    retry_count: int
    duration_seconds: int
    assessment: dict[str, Any] | None = None
    fraud_checks: list[dict[str, Any]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class WeekResult:
    weeks_ago: int
    monday: dt.date
    calls: dict[uuid.UUID, CallResult]
    """By verification id."""
    settled: bool
    unassessed: list[str]
    payout: str | None = None
    """The settlement reference the demo paid this week's approved rewards under."""


@dataclasses.dataclass
class DemoResult:
    calls: dict[uuid.UUID, CallResult]
    """This week's calls, by verification id."""
    settled: bool
    reports: list[Path]
    unassessed: list[str]
    rewards: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    """Reward ledger entries of the demo's calls (every week) after the payouts (ListRewards as JSON)."""
    payout: str | None = None
    """The settlement reference of this week's payout."""
    weeks: list[WeekResult] = dataclasses.field(default_factory=list)
    """Every week, oldest first (the last is this week)."""
    report_data: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    """This week's report of each store (as JSON), by store key."""


def to_value(obj: Any) -> struct_pb2.Value:
    value = struct_pb2.Value()
    json_format.ParseDict(obj, value)
    return value


def to_timestamp(when: dt.datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(when.astimezone(dt.UTC))
    return ts


async def put_store(stub: pb_grpc.CallEngineStub, store: Store, metadata: Metadata) -> pb.BusinessContext:
    """Create or update a scenario store and its business context, as a backend would."""
    sid = str(store_uuid(store.id))
    await stub.PutStore(
        pb.PutStoreRequest(
            store_id=sid,
            business_id=str(BUSINESS_ID),
            name=store.name,
            timezone="Europe/Stockholm",
            business_name=BUSINESS_NAME,
        ),
        metadata=metadata,
    )
    ctx = business_context(store)
    reply: pb.BusinessContext = await stub.PutBusinessContext(
        pb.PutBusinessContextRequest(store_id=sid, **{k: to_value(v) for k, v in ctx.items()}),
        metadata=metadata,
    )
    return reply


async def put_verification(stub: pb_grpc.CallEngineStub, call: PlannedCall, metadata: Metadata) -> None:
    await stub.PutVerification(
        pb.PutVerificationRequest(
            customer_verification_id=str(call.verification_id),
            store_id=str(call.store_id),
            phone_number=call.phone,
            purchase_time=to_timestamp(call.purchase_time),
            purchase_amount=call.amount,
        ),
        metadata=metadata,
    )


def dispatch_request(call: PlannedCall) -> pb.DispatchCallRequest:
    return pb.DispatchCallRequest(
        customer_verification_id=str(call.verification_id),
        store_id=str(call.store_id),
        phone_number=call.phone,
    )


class DemoClient:
    def __init__(self, address: str, settings: Settings, console: Console) -> None:
        from engine.api.auth import authority_from_settings

        self.address = address
        self.console = console
        self._api = settings.api
        authority = authority_from_settings(settings)
        self._service = (("authorization", "Bearer " + authority.mint("demo-backend", Role.SERVICE)),)
        self._admin = (("authorization", "Bearer " + authority.mint("demo-admin", Role.ADMIN)),)
        self._last_unavailable_note = float("-inf")

    async def run(
        self,
        weeks: list[WeekPlan],
        scenarios: ScenarioSet,
        out_dir: Path,
        *,
        timeout_s: float,
        clock_file: Path | None = None,
    ) -> DemoResult:
        """Each planned week in turn (oldest first) on the engine's clock set to that week."""
        clock = SystemClock(offset_file=clock_file)
        # As a backend would: ride out a short outage behind the front door (PostgreSQL
        # restarting answers UNAVAILABLE) instead of failing the run.
        retry = RetryUnavailable(120.0, on_retry=self._unavailable)
        async with tls.channel(self._api, self.address, interceptors=[retry]) as channel:
            stub = pb_grpc.CallEngineStub(channel)
            await channel.channel_ready()
            store_keys = sorted({c.store_key for w in weeks for c in w.calls})
            results: list[WeekResult] = []
            report_data: dict[str, dict[str, Any]] = {}
            reports: list[Path] = []
            for n, week in enumerate(weeks):
                if clock_file is not None:
                    write_offset(clock_file, -dt.timedelta(weeks=week.weeks_ago))
                monday = _monday(clock.now())
                ago = {0: "this week", 1: "1 week ago"}.get(week.weeks_ago, f"{week.weeks_ago} weeks ago")
                self.console.rule(f"week of {monday.isoformat()} ({ago}): {len(week.calls)} calls")
                if n == 0:
                    await self._seed_stores(stub, scenarios, store_keys)
                for call in week.calls:
                    await put_verification(stub, call, self._service)
                sessions = await self._dispatch(stub, week.calls)
                calls, done = await self._follow(stub, week.calls, sessions, timeout_s)
                unassessed = await self._collect_analysis(stub, calls, timeout_s=60.0)
                payout = await self._pay(stub, calls, store_keys, clock, timeout_s=60.0)
                data, paths = await self._reports(stub, scenarios, store_keys, out_dir, monday)
                reports += paths
                report_data = data
                results.append(WeekResult(week.weeks_ago, monday, calls, done, unassessed, payout))
            ours = {c.session_id for w in results for c in w.calls.values()}
            rewards = [e for e in await self._rewards(stub, store_keys) if e.session_id in ours]
        current = results[-1]
        return DemoResult(
            calls=current.calls,
            settled=all(w.settled for w in results),
            reports=reports,
            unassessed=[s for w in results for s in w.unassessed],
            rewards=[json_format.MessageToDict(e, preserving_proto_field_name=True) for e in rewards],
            payout=current.payout,
            weeks=results,
            report_data=report_data,
        )

    async def _seed_stores(
        self, stub: pb_grpc.CallEngineStub, scenarios: ScenarioSet, store_keys: list[str]
    ) -> None:
        stores = {s.id: s for s in scenarios.stores}
        for key in store_keys:
            reply = await put_store(stub, stores[key], self._service)
            self.console.print(
                f"store {stores[key].name}: context v{reply.context_version}, "
                f"completeness {reply.context_completeness_score:.2f}"
            )

    def _unavailable(self, method: str, details: str) -> None:
        now = time.monotonic()
        if now - self._last_unavailable_note > 5.0:  # one line per outage, not one per poll
            self.console.print(f"[yellow]front door unavailable ({method}: {details}); retrying[/]")
        self._last_unavailable_note = now

    async def _dispatch(self, stub: pb_grpc.CallEngineStub, plan: list[PlannedCall]) -> dict[uuid.UUID, str]:
        sessions: dict[uuid.UUID, str] = {}
        for call in plan:
            reply = await stub.DispatchCall(dispatch_request(call), metadata=self._service)
            sessions[call.verification_id] = reply.session_id
        self.console.print(f"dispatched {len(sessions)} calls through gRPC")
        return sessions

    async def _follow(
        self,
        stub: pb_grpc.CallEngineStub,
        plan: list[PlannedCall],
        sessions: dict[uuid.UUID, str],
        timeout_s: float,
    ) -> tuple[dict[uuid.UUID, CallResult], bool]:
        deadline = time.monotonic() + timeout_s
        calls: dict[uuid.UUID, CallResult] = {}
        done = False
        with Live(
            self._table(calls, len(plan)), console=self.console, refresh_per_second=4, transient=False
        ) as live:
            while time.monotonic() < deadline:
                for call in plan:
                    msg = await stub.GetCall(
                        pb.GetCallRequest(session_id=sessions[call.verification_id]), metadata=self._service
                    )
                    calls[call.verification_id] = CallResult(
                        session_id=msg.session_id,
                        status=STATUS_FROM_PB[msg.status],
                        failure_reason=msg.failure_reason or None,
                        retry_count=msg.retry_count,
                        duration_seconds=msg.duration_seconds,
                    )
                live.update(self._table(calls, len(plan)))
                if all(is_settled(c.status, c.failure_reason) for c in calls.values()):
                    done = True
                    break
                await asyncio.sleep(0.5)  # polling interval of the progress display
        return calls, done

    @staticmethod
    def _table(calls: dict[uuid.UUID, CallResult], total: int) -> Table:
        counts = collections.Counter(c.status.value for c in calls.values())
        retrying = sum(1 for c in calls.values() if c.status is SessionStatus.PENDING and c.retry_count > 0)
        table = Table(title=f"calls ({total})")
        for name in ("pending", "in_progress", "completed", "failed", "abandoned"):
            table.add_column(name, justify="right")
        table.add_column("retrying", justify="right")
        table.add_row(
            *(str(counts.get(n, 0)) for n in ("pending", "in_progress", "completed", "failed", "abandoned")),
            str(retrying),
        )
        return table

    async def _collect_analysis(
        self, stub: pb_grpc.CallEngineStub, calls: dict[uuid.UUID, CallResult], *, timeout_s: float
    ) -> list[str]:
        """Wait for every completed call's assessment; returns the sessions that got none in time."""
        deadline = time.monotonic() + timeout_s
        wanted = {c.session_id: c for c in calls.values() if c.status is SessionStatus.COMPLETED}
        optional = {c.session_id: c for c in calls.values() if c.status is SessionStatus.ABANDONED}
        missing = set(wanted)
        while missing and time.monotonic() < deadline:
            for session_id in sorted(missing):
                try:
                    msg = await stub.GetAssessment(
                        pb.GetAssessmentRequest(session_id=session_id), metadata=self._admin
                    )
                except grpc.aio.AioRpcError as exc:
                    if exc.code() is grpc.StatusCode.NOT_FOUND:
                        continue
                    raise
                wanted[session_id].assessment = json_format.MessageToDict(
                    msg, preserving_proto_field_name=True
                )
                missing.discard(session_id)
            if missing:
                await asyncio.sleep(0.5)  # analysis runs in the pools; poll until it is stored
        for session_id, call in optional.items():
            try:
                msg = await stub.GetAssessment(
                    pb.GetAssessmentRequest(session_id=session_id), metadata=self._admin
                )
                call.assessment = json_format.MessageToDict(msg, preserving_proto_field_name=True)
            except grpc.aio.AioRpcError:
                pass
        by_session = {c.session_id: c for c in calls.values()}
        token = ""
        while True:
            page = await stub.ListFraudResults(
                pb.ListFraudResultsRequest(page_size=100, page_token=token), metadata=self._admin
            )
            for result in page.results:
                if result.session_id in by_session:
                    by_session[result.session_id].fraud_checks.append(
                        json_format.MessageToDict(result, preserving_proto_field_name=True)
                    )
            token = page.next_page_token
            if not token:
                break
        return sorted(missing)

    async def _pay(
        self,
        stub: pb_grpc.CallEngineStub,
        calls: dict[uuid.UUID, CallResult],
        store_keys: list[str],
        clock: SystemClock,
        *,
        timeout_s: float,
    ) -> str | None:
        """Wait until no reward of these calls is held for unfinished fraud checks, then pay the approved ones.

        A backend's payout run: list the ledger, settle what is approved under one reference.
        """
        ours = {c.session_id for c in calls.values()}
        deadline = time.monotonic() + timeout_s
        while True:
            entries = [e for e in await self._rewards(stub, store_keys) if e.session_id in ours]
            pending = [e for e in entries if e.state == pb.REWARD_STATE_PENDING]
            if not pending or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.5)  # the fraud pool folds its verdicts in; poll until it has
        approved = [e.session_id for e in entries if e.state == pb.REWARD_STATE_APPROVED]
        if not approved:
            return None
        payout = f"demo-payout-{clock.now():%Y%m%dT%H%M%S}"
        await stub.SettleRewards(
            pb.SettleRewardsRequest(session_ids=approved, settlement_reference=payout),
            metadata=self._service,
        )
        self.console.print(f"paid {len(approved)} approved rewards under settlement {payout}")
        return payout

    async def _rewards(self, stub: pb_grpc.CallEngineStub, store_keys: list[str]) -> list[pb.Reward]:
        out: list[pb.Reward] = []
        for key in store_keys:
            token = ""
            while True:
                page = await stub.ListRewards(
                    pb.ListRewardsRequest(store_id=str(store_uuid(key)), page_size=100, page_token=token),
                    metadata=self._service,
                )
                out.extend(page.rewards)
                token = page.next_page_token
                if not token:
                    break
        return out

    async def _reports(
        self,
        stub: pb_grpc.CallEngineStub,
        scenarios: ScenarioSet,
        store_keys: list[str],
        out_dir: Path,
        monday: dt.date,
    ) -> tuple[dict[str, dict[str, Any]], list[Path]]:
        """Build each store's report of the week (as the Reporter would on Monday), write it as HTML."""
        from engine.analysis.render import render_html

        names = {s.id: s.name for s in scenarios.stores}
        data: dict[str, dict[str, Any]] = {}
        paths: list[Path] = []
        for key in store_keys:
            report = await stub.GenerateWeeklyReport(
                pb.GenerateWeeklyReportRequest(
                    store_id=str(store_uuid(key)), analysis_week=monday.isoformat()
                ),
                metadata=self._service,
                timeout=120,
            )
            data[key] = json_format.MessageToDict(
                report, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
            )
            path = out_dir / f"report-{key}-{report.analysis_week}.html"
            path.write_text(render_html(data[key], names[key]), encoding="utf-8")
            paths.append(path)
        return data, paths


def _monday(now: dt.datetime) -> dt.date:
    """The Monday of ``now``'s week in the demo stores' time zone."""
    import zoneinfo

    today = now.astimezone(zoneinfo.ZoneInfo("Europe/Stockholm")).date()
    return today - dt.timedelta(days=today.weekday())
