"""The CallEngine servicer: checks rights and input, then reads/writes through storage.

Every handler is ``async def X(self, request, caller)`` behind the gate
(:mod:`engine.api.gate`), which authenticates, bounds concurrency, applies the
deadline and maps errors. Rights are checked here *and* enforced again by
PostgreSQL row-level security, because every transaction runs as the caller's
principal.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from engine.api import convert
from engine.api import validation as v
from engine.api.auth import Caller, TokenAuthority
from engine.api.business import BusinessRpcs
from engine.api.events import EventRpcs
from engine.api.gate import CallerLimiter, Limiter, server_stream, unary
from engine.api.gen import callengine_pb2 as pb
from engine.api.gen import callengine_pb2_grpc as pb_grpc
from engine.api.held import HeldReason
from engine.api.ports import DispatcherPort
from engine.api.reports import ReportPort
from engine.config import ApiSettings, DispatchSettings
from engine.domain import Role, SessionStatus
from engine.errors import NotFoundError, PermissionDeniedError
from storage.database import Database
from storage.principal import Principal
from storage.records import BusinessContext as BusinessContextRecord
from storage.records import CallSessionRecord, FraudFilter
from storage.repositories._dispatch import DispatchLimits

log = logging.getLogger("engine.api")

WRITERS = (Role.ADMIN, Role.SERVICE)
WATCH_MAX_POLL_SECONDS = 2.0
NOTIFY_TIMEOUT_SECONDS = 5.0


def principal_of(caller: Caller) -> Principal:
    return Principal(caller.user_id, caller.role, caller.store_ids)


class CallEngineService(BusinessRpcs, EventRpcs, pb_grpc.CallEngineServicer):
    """callengine.v1.CallEngine over the storage repositories and the Dispatcher port.

    The business-output RPCs (rewards, report lists, statistics) live in :mod:`engine.api.business`,
    the events RPCs (WatchEvents, dead deliveries) in :mod:`engine.api.events`.
    """

    def __init__(
        self,
        db: Database,
        dispatcher: DispatcherPort,
        authority: TokenAuthority,
        api: ApiSettings,
        reports: ReportPort,
        *,
        watch_poll_seconds: float = 0.25,
        clock: Callable[[], dt.datetime] | None = None,
        dispatch: DispatchSettings | None = None,
    ) -> None:
        self.db = db
        self.dispatch_settings = dispatch or DispatchSettings()
        self.limits = DispatchLimits(
            self.dispatch_settings.number_cooldown_seconds, self.dispatch_settings.store_daily_quota
        )
        self.dispatcher = dispatcher
        self.held = HeldReason(dispatcher)
        self.reports = reports
        self.authority = authority
        self.unary_limit = Limiter(api.max_in_flight, "requests")
        self.stream_limit = Limiter(api.max_watch_streams, "watch streams")
        self.caller_streams = CallerLimiter(api.max_watch_streams_per_caller, "watch streams")
        self.stream_max_seconds = api.watch_max_seconds
        self.watch_poll_seconds = watch_poll_seconds
        # The engine's clock (the database's) unless a test passes its own.
        self.clock = clock or db.clock.now
        self._notices: set[asyncio.Task[None]] = set()
        self._notify_next: uuid.UUID | None = None

    # ------------------------------------------------------------ calls

    @unary
    async def DispatchCall(self, request: pb.DispatchCallRequest, caller: Caller) -> pb.DispatchCallResponse:
        args = v.parse_dispatch(request, self.dispatch_settings.allowed_country_codes)
        caller.require_store(args.store_id)
        now = self.clock()
        # One round trip: the database copies the verification's number, checks the named
        # one (if any) and the limits, and inserts the session, its event and audit row.
        rec = await self.db.dispatch(
            principal_of(caller),
            args.verification_id,
            args.store_id,
            args.phone_number,
            args.not_before,
            now,
            self.limits,
        )
        existed = rec.created_at != now
        if not existed:
            self._notify_soon(rec.id)
        log.info("dispatch session=%s store=%s existed=%s", rec.id, rec.store_id, existed)
        return pb.DispatchCallResponse(
            session_id=str(rec.id),
            status=v.SESSION_STATUS_TO_PB[rec.session_status],
            already_existed=existed,
        )

    def _notify_soon(self, session_id: uuid.UUID) -> None:
        """Tell the Dispatcher in the background: the session is committed and the
        Dispatcher also polls the queue, so the reply need not wait for it.

        Notices are coalesced: a notice only wakes the Dispatcher, which then claims every
        due session, so while one is in flight the dispatches meanwhile send one more
        after it (for the newest session), not one Ray call each (at 500 dispatches/s
        that would be 500 actor calls/s on both sides)."""
        self._notify_next = session_id
        if not self._notices:
            task = asyncio.get_running_loop().create_task(self._notify_loop(), name="dispatcher-notices")
            self._notices.add(task)
            task.add_done_callback(self._notices.discard)

    async def _notify_loop(self) -> None:
        while self._notify_next is not None:
            session_id, self._notify_next = self._notify_next, None
            await self._notify(session_id)

    async def _notify(self, session_id: uuid.UUID) -> None:
        try:
            async with asyncio.timeout(NOTIFY_TIMEOUT_SECONDS):
                await self.dispatcher.notify(session_id)
        except Exception as exc:
            log.warning("dispatcher notify failed session=%s: %s", session_id, type(exc).__name__)

    async def aclose(self, wait_s: float = 2.0) -> None:
        """Let pending Dispatcher notices finish (bounded), then cancel the rest; stop listening."""
        if self._feed is not None:
            await self._feed.close()
        if self._notices:
            _, pending = await asyncio.wait(set(self._notices), timeout=wait_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)

    @unary
    async def GetCall(self, request: pb.GetCallRequest, caller: Caller) -> pb.CallSession:
        session_id = v.parse_session_id(request)
        rec = await self._session(session_id, caller)
        # A due session held back by an open provider breaker says so.
        return convert.call_session(await self.held.apply(rec, self.clock()))

    async def _session(self, session_id: uuid.UUID, caller: Caller) -> CallSessionRecord:
        try:
            async with self.db.transaction(principal_of(caller)) as tx:
                rec = await tx.sessions.get(session_id)
        except NotFoundError:
            await self._deny_if_hidden(session_id, caller)
            raise
        caller.require_store(rec.store_id)
        return rec

    async def _deny_if_hidden(self, session_id: uuid.UUID, caller: Caller) -> None:
        """RLS hides other stores' rows; say PERMISSION_DENIED rather than NOT_FOUND for them."""
        if caller.role is not Role.STORE_OWNER:
            return
        async with self.db.transaction(Principal.service()) as tx:
            try:
                rec = await tx.sessions.get(session_id)
            except NotFoundError:
                return
        if not caller.can_access_store(rec.store_id):
            raise PermissionDeniedError(f"no access to session {session_id}")

    @server_stream
    async def WatchCall(
        self, request: pb.WatchCallRequest, caller: Caller
    ) -> AsyncIterator[pb.CallStatusEvent]:
        session_id = v.parse_session_id(request)
        await self._session(session_id, caller)
        principal = principal_of(caller)
        last_id = 0
        last_status: SessionStatus | None = None
        # Poll fast while things change, back off (to WATCH_MAX_POLL_SECONDS) while a
        # session waits, e.g. for its call window: bounded load for many idle watchers.
        delay = self.watch_poll_seconds
        while True:
            async with self.db.transaction(principal) as tx:
                events = await tx.sessions.events_since(session_id, last_id, 100)
                rec = await tx.sessions.get(session_id) if events else None
            for event in events:
                last_id = event.id
                if event.status is last_status:
                    continue
                last_status = event.status
                assert rec is not None
                yield convert.status_event(event, rec)
                if event.status.terminal:
                    return
            if events:
                delay = self.watch_poll_seconds
            if len(events) < 100:
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, max(self.watch_poll_seconds, WATCH_MAX_POLL_SECONDS))

    @unary
    async def CancelCall(self, request: pb.CancelCallRequest, caller: Caller) -> pb.CallSession:
        session_id = v.parse_session_id(request)
        rec = await self._session(session_id, caller)
        if rec.session_status is SessionStatus.PENDING:
            async with self.db.transaction(principal_of(caller)) as tx:
                rec = await tx.sessions.cancel(session_id, self.clock())
        if not rec.session_status.terminal or rec.failure_reason == "canceled":
            try:
                async with asyncio.timeout(2.0):
                    await self.dispatcher.cancel(session_id)
            except Exception as exc:
                log.warning("dispatcher cancel failed session=%s: %s", session_id, type(exc).__name__)
        log.info("cancel session=%s status=%s", session_id, rec.session_status.value)
        return convert.call_session(rec)

    @unary
    async def ListCalls(self, request: pb.ListCallsRequest, caller: Caller) -> pb.ListCallsResponse:
        args = v.parse_list_calls(request)
        caller.require_store(args.store_id)
        async with self.db.transaction(principal_of(caller)) as tx:
            page = await tx.sessions.list(
                args.store_id,
                args.status,
                args.created_after,
                args.created_before,
                args.page_size,
                args.page_token,
            )
        return pb.ListCallsResponse(
            calls=[convert.call_session(r) for r in page.items], next_page_token=page.next_page_token or ""
        )

    # ------------------------------------------------------------ assessments, contexts, reports

    @unary
    async def GetAssessment(self, request: pb.GetAssessmentRequest, caller: Caller) -> pb.Assessment:
        session_id = v.parse_assessment(request)
        await self._session(session_id, caller)
        async with self.db.transaction(principal_of(caller)) as tx:
            rec = await tx.assessments.get_by_session(session_id)
        return convert.assessment(rec)

    @unary
    async def GetBusinessContext(
        self, request: pb.GetBusinessContextRequest, caller: Caller
    ) -> pb.BusinessContext:
        store_id = v.parse_store_id(request)
        caller.require_store(store_id)
        async with self.db.transaction(principal_of(caller)) as tx:
            rec = await tx.contexts.get_current(store_id)
        return convert.business_context(rec)

    @unary
    async def PutBusinessContext(
        self, request: pb.PutBusinessContextRequest, caller: Caller
    ) -> pb.BusinessContext:
        from engine.analysis.context import completeness_score, context_to_payload, validate_business_context

        args = v.parse_put_business_context(request)
        caller.require_store(args.store_id)
        checked = validate_business_context(args.payload)
        score = round(completeness_score(checked, today=self.clock().date()), 2)
        # Store the normalised payload (defaults filled in, integers as integers).
        record = _context_record(args.store_id, context_to_payload(checked), score, caller.user_id)
        async with self.db.transaction(principal_of(caller)) as tx:
            rec = await tx.contexts.put_new_version(record, expected_version=args.expected_version)
        log.info("business context store=%s version=%s", args.store_id, rec.context_version)
        return convert.business_context(rec)

    @unary
    async def GetWeeklyReport(self, request: pb.GetWeeklyReportRequest, caller: Caller) -> pb.WeeklyReport:
        args = v.parse_week(request)
        caller.require_store(args.store_id)
        async with self.db.transaction(principal_of(caller)) as tx:
            rec = await tx.reports.get(args.store_id, args.week_monday)
        return convert.weekly_report(rec)

    @unary
    async def GenerateWeeklyReport(
        self, request: pb.GenerateWeeklyReportRequest, caller: Caller
    ) -> pb.WeeklyReport:
        args = v.parse_week(request)
        caller.require_store(args.store_id)
        await self.reports.generate(args.store_id, args.week_monday)
        async with self.db.transaction(principal_of(caller)) as tx:
            rec = await tx.reports.get(args.store_id, args.week_monday)
        log.info("weekly report generated store=%s week=%s", args.store_id, args.week_monday)
        return convert.weekly_report(rec)

    # ------------------------------------------------------------ admin

    @unary
    async def ListFraudResults(
        self, request: pb.ListFraudResultsRequest, caller: Caller
    ) -> pb.ListFraudResultsResponse:
        caller.require_role(Role.ADMIN)
        args = v.parse_list_fraud(request)
        flt = FraudFilter(
            store_id=args.store_id,
            check_type=args.check_type,
            suspicious_only=args.suspicious_only,
            review_required_only=args.needs_review_only,
        )
        async with self.db.transaction(principal_of(caller)) as tx:
            page = await tx.fraud.list(flt, args.page_size, args.page_token)
        return pb.ListFraudResultsResponse(
            results=[convert.fraud_result(r) for r in page.items], next_page_token=page.next_page_token or ""
        )

    @unary
    async def ReviewFraudResult(self, request: pb.ReviewFraudResultRequest, caller: Caller) -> pb.FraudResult:
        caller.require_role(Role.ADMIN)
        args = v.parse_review(request)
        from engine.analysis.service import review_fraud_result

        # Through the analysis service: the session's assessment is re-folded with the decision.
        rec = await review_fraud_result(
            self.db, principal_of(caller), args.fraud_result_id, args.decision, now=self.clock()
        )
        log.info("fraud review result=%s decision=%s", args.fraud_result_id, args.decision.value)
        return convert.fraud_result(rec)

    @unary
    async def EraseCustomerData(
        self, request: pb.EraseCustomerDataRequest, caller: Caller
    ) -> pb.EraseCustomerDataResponse:
        caller.require_role(Role.ADMIN)
        phone = v.parse_erase(request)
        from storage.retention import erase_customer

        report = await erase_customer(self.db, principal_of(caller), phone)
        log.info("customer data erased rows=%d", sum(report.counts.values()))
        return pb.EraseCustomerDataResponse(affected_rows=dict(report.counts))

    @unary
    async def ExportCustomerData(
        self, request: pb.ExportCustomerDataRequest, caller: Caller
    ) -> pb.ExportCustomerDataResponse:
        caller.require_role(Role.ADMIN)
        phone = v.parse_erase(request)
        from storage.export import export_customer

        document = await export_customer(self.db, principal_of(caller), phone)
        log.info("customer data exported sessions=%d", len(document["call_sessions"]))
        return pb.ExportCustomerDataResponse(document_json=json.dumps(document, ensure_ascii=False))

    @unary
    async def PutStore(self, request: pb.PutStoreRequest, caller: Caller) -> pb.Store:
        caller.require_role(*WRITERS)
        args = v.parse_put_store(request)
        async with self.db.transaction(principal_of(caller)) as tx:
            if args.business_name:
                await tx.stores.upsert_business(args.business_id, args.business_name)
            rec = await tx.stores.upsert_store(
                args.store_id, args.business_id, args.name, args.timezone, currency=args.currency
            )
        log.info("store put store=%s", args.store_id)
        return convert.store(rec)

    @unary
    async def PutVerification(self, request: pb.PutVerificationRequest, caller: Caller) -> pb.Verification:
        caller.require_role(*WRITERS)
        args = v.parse_put_verification(request)
        verified_at = args.verified_at or self.clock()
        async with self.db.transaction(principal_of(caller)) as tx:
            rec = await tx.stores.upsert_verification(
                args.verification_id,
                args.store_id,
                args.phone_number,
                args.purchase_time,
                args.purchase_amount,
                verified_at,
            )
        log.info("verification put verification=%s store=%s", args.verification_id, args.store_id)
        return convert.verification(rec)


def _context_record(
    store_id: uuid.UUID, payload: dict[str, Any], score: float, user_id: uuid.UUID | None
) -> BusinessContextRecord:
    return BusinessContextRecord(
        store_id=store_id,
        operating_hours=payload["operating_hours"],
        departments=payload["departments"],
        question_configuration=payload["question_configuration"],
        baseline_facts=payload["baseline_facts"],
        current_campaigns=payload.get("current_campaigns") or None,
        context_completeness_score=score,
        updated_by=user_id,
    )
