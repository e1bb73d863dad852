"""The media bridge of one answered call: Twilio Media Stream ⇄ OpenAI Realtime.

Shape (every task owned by one object): a reader and a writer task per socket, a timer task and a
transcript flusher, all owned here; ``run()`` waits for the first to finish or
for an end condition, re-raises a task's error, and cancels the rest with a
timeout. Audio is never decoded: base64 mu-law goes from one JSON envelope to
the other. Bounded queues: Twilio→Realtime blocks the Twilio reader when full
(TCP backpressure) except while the Realtime socket is being restored, when
the oldest audio is dropped and counted; Realtime→Twilio blocks the Realtime
reader when full.

The Realtime side is supervised: an unexpected close is restored on a new
socket within ``RESTORE_SECONDS`` (session.update + earlier lines replayed as
text); a session nearing its time limit is renewed the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import websockets

from engine.clock import Clock
from engine.config import Settings
from engine.domain import Speaker
from engine.errors import UnavailableError
from engine.realtime import events as rt
from engine.realtime.connection import RealtimeConnector, RealtimeSocket
from engine.realtime.fastws import FastSocket
from engine.session.bridge_events import RealtimeHandler
from engine.session.control import Effect, InterviewControl
from engine.session.media_socket import MediaSocket
from engine.session.metrics import CallMetrics
from engine.session.playback import Playback
from engine.session.state import Event
from engine.session.store import TranscriptLine
from engine.session.timers import CallTimers, TimerAction
from engine.session.transcript import TranscriptLog
from engine.telephony import media

RESTORE_SECONDS = 2.0
TO_TWILIO_MAX = 2000
TO_REALTIME_MAX = 250
CLOSING_GRACE_SECONDS = 20.0
"""After end_call (or a spoken opt-out), end even if the goodbye is never heard in full."""
CANCEL_TIMEOUT = 2.0
FINAL_WORDS_SECONDS = 1.5


class Bridge(RealtimeHandler):
    timer_poll_seconds = 0.25
    """The timer task also re-checks polled conditions (the goodbye played out by Twilio's media
    clock when no end mark came back, a renewal deferred while someone spoke) this often."""

    def __init__(
        self,
        *,
        twilio_ws: MediaSocket,
        stream_sid: str,
        connector: RealtimeConnector,
        settings: Settings,
        control: InterviewControl,
        session_update: Callable[[], str],
        clock: Clock,
        log: logging.LoggerAdapter[logging.Logger],
        metrics: CallMetrics,
        transcript: TranscriptLog,
        flush: Callable[[list[TranscriptLine]], Awaitable[None]],
        opt_out: Callable[[], Awaitable[None]],
        started_at: float,
        persist: Callable[[list[Effect]], None] | None = None,
    ) -> None:
        self.twilio_ws = twilio_ws
        self.stream_sid = stream_sid
        self._connector = connector
        self.settings = settings
        self.control = control
        self._session_update = session_update
        self._persist_cb = persist
        self.clock = clock
        self.log = log
        self.metrics = metrics
        self.transcript = transcript
        self._flush_cb = flush
        self._opt_out_cb = opt_out
        self.started_at = started_at
        self.playback = Playback()
        self.timers = CallTimers(settings.session, started_at)
        self.to_twilio: asyncio.Queue[str] = asyncio.Queue(TO_TWILIO_MAX)
        self.to_realtime: asyncio.Queue[str] = asyncio.Queue(TO_REALTIME_MAX)
        self._done = asyncio.Event()
        self.end_event: Event | None = None
        self.pending_end: Event | None = None
        self._pending_deadline: float | None = None
        self._restoring = False
        self._rt_writing = False
        self._tw_writing = False
        self._renew = False
        self._rt_ws: RealtimeSocket | None = None
        self.realtime_expires_at: float | None = None
        self.openai_session_ids: list[str] = []
        self._side_tasks: set[asyncio.Task[None]] = set()
        self._opted_out = False
        RealtimeHandler.__init__(self)

    # ------------------------------------------------------------------ helpers
    def ms(self) -> int:
        return int((self.clock.monotonic() - self.started_at) * 1000)

    def end(self, event: Event) -> None:
        if self.end_event is None:
            self.end_event = event
            self._done.set()

    def end_after_closing(self, event: Event) -> None:
        """End once the closing line has been heard (or after a grace period)."""
        if self.pending_end is None or event is Event.OPTED_OUT:
            self.pending_end = event
            self._pending_deadline = self.clock.monotonic() + CLOSING_GRACE_SECONDS

    def send_twilio(self, frame: str) -> None:
        try:
            self.to_twilio.put_nowait(frame)
        except asyncio.QueueFull:
            self.metrics.error("twilio_queue_full", self.ms())

    def send_realtime(self, event: str) -> None:
        """Control events: never dropped for audio (the queue leaves room by dropping audio)."""
        while self.to_realtime.full():
            self.to_realtime.get_nowait()
            self.metrics.error("realtime_backlog_dropped", self.ms())
        self.to_realtime.put_nowait(event)

    def clear_twilio(self) -> None:
        while not self.to_twilio.empty():
            self.to_twilio.get_nowait()
        self.to_twilio.put_nowait(media.encode_clear(self.stream_sid))

    def spawn(self, coro: Awaitable[None], name: str) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    def opt_out(self) -> None:
        if not self._opted_out:
            self._opted_out = True
            self.spawn(self._opt_out_cb(), "opt-out")

    def persist(self, effects: list[Effect]) -> None:
        if self._persist_cb is not None:
            self._persist_cb(effects)

    # ------------------------------------------------------------------ run
    async def run(self) -> Event:
        tasks = [
            asyncio.create_task(self._twilio_reader(), name="twilio-reader"),
            asyncio.create_task(self._twilio_writer(), name="twilio-writer"),
            asyncio.create_task(self._realtime(), name="realtime"),
            asyncio.create_task(self._timer_loop(), name="timers"),
            asyncio.create_task(self._flush_loop(), name="flusher"),
        ]
        done_wait = asyncio.create_task(self._done.wait(), name="end-wait")
        try:
            pending: set[asyncio.Task[Any]] = {*tasks, done_wait}
            while done_wait in pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if task is not done_wait and not task.cancelled() and task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]
                # A writer that saw its socket close just stops; the end comes from the readers.
            return self.end_event or self.pending_end or Event.CUSTOMER_HUNG_UP
        finally:
            await _cancel_all([*tasks, done_wait, *self._side_tasks])
            if self._rt_ws is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(1.0):
                        await self._rt_ws.close()

    async def finish_side_tasks(self) -> None:
        if self._side_tasks:
            await asyncio.wait(self._side_tasks, timeout=CANCEL_TIMEOUT)

    # ------------------------------------------------------------------ Twilio side
    async def _twilio_reader(self) -> None:
        handle = self.on_twilio_frame
        try:
            async for raw in self.twilio_ws:
                self.metrics.bytes_in += len(raw)
                if handle(raw):
                    await self._put_realtime_audio()
        except websockets.exceptions.ConnectionClosed:
            pass
        if self.end_event is None and self.final_words is not None:
            # The customer hung up mid-sentence: let the committed words be transcribed first.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(FINAL_WORDS_SECONDS):
                    await self.final_words.wait()
        if self.end_event is None:
            self.end(self.pending_end or self.hang_up_event())

    async def _put_realtime_audio(self) -> None:
        frame = self._inbound_audio
        ws = self._rt_ws
        if self._restoring or ws is None:
            self.send_realtime(frame)  # drops the oldest while there is no socket
        elif self._rt_writing or self.to_realtime.qsize():
            await self.to_realtime.put(frame)  # backpressure onto Twilio's TCP stream
        else:
            # Fast path: nothing is waiting, so skip the queue hop (order is preserved).
            self.metrics.bytes_out += len(frame)
            try:
                await ws.send(frame)
            except websockets.exceptions.ConnectionClosed:
                pass  # the Realtime supervisor sees the drop and restores the socket

    async def _twilio_writer(self) -> None:
        try:
            await self._write_twilio()
        except websockets.exceptions.ConnectionClosed:
            pass  # the Twilio reader sees the close and ends the call

    async def _write_twilio(self) -> None:
        ws = self.twilio_ws
        queue = self.to_twilio
        while True:
            frame = await queue.get()
            self._tw_writing = True
            try:
                await ws.send(frame)
                self.metrics.bytes_out += len(frame)
                while queue.qsize():
                    frame = queue.get_nowait()
                    await ws.send(frame)
                    self.metrics.bytes_out += len(frame)
            finally:
                self._tw_writing = False

    # ------------------------------------------------------------------ Realtime side
    async def _open_realtime(self, restore: bool) -> RealtimeSocket:
        t0 = self.clock.monotonic()
        ws = await self._connector()
        self.metrics.on_api_latency((self.clock.monotonic() - t0) * 1000)
        # Rebuilt on every socket: a restored session gets the progress made so far.
        await ws.send(self._session_update())
        self.api_sent("session")
        if restore:
            for line in self.transcript.conversation():
                role = "assistant" if line.speaker is Speaker.AI else "user"
                await ws.send(rt.text_item(role, line.content))
        if not restore or self.needs_response_after_restore():
            await ws.send(rt.response_create())
            self.api_sent("response")
        return ws

    async def _realtime(self) -> None:
        restore = False
        while True:
            try:
                if restore:
                    ws = await self._reconnect()
                else:
                    ws = await self._open_realtime(restore=False)
            except (UnavailableError, OSError, TimeoutError, websockets.exceptions.WebSocketException):
                self.log.warning("realtime unavailable; ending the call")
                self.metrics.error("realtime_unavailable", self.ms())
                self.end(Event.REALTIME_LOST)
                return
            done = await self._follow(ws, "realtime")
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await ws.close()
            raise_task_failure(done)
            if self._renew:
                self._renew = False
                self.metrics.realtime_renewals += 1
                self.log.info("renewing the realtime session")
                self.on_realtime_lost()
            else:
                self.log.warning("realtime socket dropped mid-call; restoring")
                self.metrics.error("realtime_dropped", self.ms())
                self.on_realtime_lost()
            restore = True

    async def _follow(self, ws: RealtimeSocket, name: str) -> set[asyncio.Task[None]]:
        """Read and write one Realtime socket until either side stops; returns the finished task(s)."""
        self._rt_ws = ws
        self._restoring = False
        reader = asyncio.create_task(self._realtime_reader(ws), name=f"{name}-reader")
        writer = asyncio.create_task(self._realtime_writer(ws), name=f"{name}-writer")
        try:
            done, _ = await asyncio.wait([reader, writer], return_when=asyncio.FIRST_COMPLETED)
        finally:
            await _cancel_all([reader, writer])
        self._rt_ws = None
        self._restoring = True
        return done

    async def _reconnect(self) -> RealtimeSocket:
        deadline = self.clock.monotonic() + RESTORE_SECONDS
        delay = 0.05
        while True:
            try:
                async with asyncio.timeout(max(0.05, deadline - self.clock.monotonic())):
                    ws = await self._open_realtime(restore=True)
                self.metrics.error("realtime_restored", self.ms())
                return ws
            except (UnavailableError, TimeoutError, OSError, websockets.exceptions.WebSocketException) as exc:
                if self.clock.monotonic() + delay >= deadline:
                    raise UnavailableError("realtime could not be restored") from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)

    async def _realtime_reader(self, ws: RealtimeSocket) -> None:
        handle = self.on_realtime_event
        twilio = self.twilio_ws
        # Push mode when both sockets allow it: a Realtime event is handled and its Twilio
        # frame written inside the read callback (no queue, no task switch per frame).
        push = isinstance(ws, FastSocket) and callable(getattr(twilio, "send_now", None))
        aiter = ws.__aiter__()
        while True:
            if push and not ws.pending:  # type: ignore[attr-defined]
                ws.on_message = self._on_realtime_push  # type: ignore[attr-defined]
            try:
                raw = await aiter.__anext__()  # in push mode: a message push declined, or the end
            except StopAsyncIteration:
                return
            if push:
                ws.on_message = None  # type: ignore[attr-defined]
            self.metrics.bytes_in += len(raw)
            out = handle(raw)
            if out is None:
                continue
            if type(out) is str and not self._tw_writing and not self.to_twilio.qsize():
                # Fast path: nothing is waiting, so skip the queue hop (order is preserved).
                self.metrics.bytes_out += len(out)
                try:
                    await twilio.send(out)
                except websockets.exceptions.ConnectionClosed:
                    pass  # the Twilio reader ends the call
            elif type(out) is str:
                await self.to_twilio.put(out)  # blocks when Twilio lags: backpressure
            else:
                for frame in out:
                    await self.to_twilio.put(frame)

    def _on_realtime_push(self, raw: bytes) -> bool:
        """One Realtime event in the socket's read callback; False hands it to the reader task."""
        queue = self.to_twilio
        if self._tw_writing or queue.qsize():
            return False  # Twilio is behind: the reader task waits on the queue (backpressure)
        self.metrics.bytes_in += len(raw)
        out = self.on_realtime_event(raw)
        if out is None:
            return True
        send_now = self.twilio_ws.send_now  # type: ignore[attr-defined]
        frames = (out,) if type(out) is str else out
        for i, frame in enumerate(frames):
            if not queue.qsize() and send_now(frame):
                self.metrics.bytes_out += len(frame)
                continue
            # The socket is busy: the writer task sends the rest, in order (the queue was
            # empty a moment ago, so this handful of frames fits and nothing is dropped).
            for rest in frames[i:]:
                self.send_twilio(rest)
            break
        return True

    async def _realtime_writer(self, ws: RealtimeSocket) -> None:
        queue = self.to_realtime
        while True:
            event = await queue.get()
            self._rt_writing = True
            try:
                await ws.send(event)
                self.metrics.bytes_out += len(event)
                while queue.qsize():
                    event = queue.get_nowait()
                    await ws.send(event)
                    self.metrics.bytes_out += len(event)
            finally:
                self._rt_writing = False

    def renew_realtime(self) -> None:
        if self._rt_ws is not None and not self._renew:
            self._renew = True
            self.spawn(self._rt_ws.close(), "realtime-renew")

    def line_down(self) -> None:
        """Twilio reported the call over (status callback): end, after the last words if pending."""
        if self.final_words is None:
            self.end(self.pending_end or self.hang_up_event())
        else:
            self.spawn(self._end_after_final_words(), "final-words")

    async def _end_after_final_words(self) -> None:
        assert self.final_words is not None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FINAL_WORDS_SECONDS):
                await self.final_words.wait()
        self.end(self.pending_end or self.hang_up_event())

    def expect_renewal(self) -> None:
        self._renew = True

    # ------------------------------------------------------------------ timers, flushing
    async def _timer_loop(self) -> None:
        while True:
            now = self.clock.monotonic()
            await self.clock.sleep(min(self.timers.next_check(now), self.timer_poll_seconds))
            now = self.clock.monotonic()
            if self.pending_end is not None and self._pending_deadline and now >= self._pending_deadline:
                self.end(self.pending_end)
            self.check_end()
            if (
                self.realtime_expires_at is not None
                and now >= self.realtime_expires_at - self.renew_margin
                and not self.playback.playing()
                and not self.timers.customer_speaking
            ):
                self.realtime_expires_at = None
                self.renew_realtime()
            action = self.timers.due(now)
            if action is TimerAction.MAX_DURATION:
                self.log.info("maximum call duration reached")
                self.end(Event.INTERVIEW_DONE)
            elif action is TimerAction.SILENCE_HANGUP:
                self.log.info("customer silent; hanging up")
                self.end(self.pending_end or self.silence_event())
            elif action is TimerAction.CLOSING_SILENCE:
                self.log.info("interview done and quiet after the AI's last turn; hanging up")
                self.end(self.pending_end or Event.INTERVIEW_DONE)
            elif action is TimerAction.NUDGE:
                self.request_reminder()

    async def _flush_loop(self) -> None:
        interval = self.settings.session.transcript_flush_seconds
        while True:
            await self.clock.sleep(interval)
            lines = self.transcript.take(self.clock.monotonic())
            if lines:
                await self._flush_cb(lines)


def raise_task_failure(done: set[asyncio.Task[None]]) -> None:
    """Re-raise a finished socket task's error; a closed socket is how a socket ends, not one."""
    for task in done:
        exc = None if task.cancelled() else task.exception()
        if exc is not None and not isinstance(exc, websockets.exceptions.ConnectionClosed):
            raise exc


async def _cancel_all(tasks: list[asyncio.Task[None]] | list[asyncio.Task[object]] | list) -> None:  # type: ignore[type-arg]
    pending = [t for t in tasks if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        _, still = await asyncio.wait(pending, timeout=CANCEL_TIMEOUT)
        if still:
            logging.getLogger(__name__).error("%d bridge tasks did not stop in time", len(still))
