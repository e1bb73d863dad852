"""``callengine demo``: the main job end to end on embedded defaults.

Starts the emulators (a separate process, as a user would run them), the
engine (embedded PostgreSQL unless ``DATABASE_URL``, local Ray unless
``RAY_ADDRESS``, the Dispatcher, SessionHosts, analysis pools, Reporter and the
gRPC front door inside the cluster), then acts as a backend service: it seeds
three stores with their business contexts and the scenario set's
verifications, dispatches every call **through the gRPC API**, follows
progress, waits for assessments and fraud checks, pays the approved rewards,
builds the weekly reports, writes them as HTML and prints a summary.

Several weeks: the earlier weeks' calls run first, each on the engine's clock set
back by whole weeks (``CALLENGINE_CLOCK_OFFSET_FILE``, which every engine process
follows; allowed only for a purely local run), so the engine itself writes every
row of those weeks with their dates, and this week's reports have trends,
week-over-week changes and predictions to show. A small HTTPS backend
(:mod:`engine.demo.backend`) receives the engine's signed webhooks meanwhile; the
summary checks it got one for every settled call.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from engine.config import SECRETS_DIR_ENV, Settings
from engine.errors import CallEngineError
from engine.logs import get_logger

log = get_logger(__name__)

_EMULATOR_KEYS = (
    "TWILIO_API_BASE_URL",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_WEBHOOK_SECRET",
)


@dataclasses.dataclass(frozen=True)
class DemoOptions:
    speed: float = 4.0
    """Emulator speed factor; the engine's conversation timers are scaled by the same factor."""
    calls: int | None = None
    """Dial only this many of the scenario set's verifications (None = all)."""
    out_dir: Path = Path("demo-output")
    timeout_s: float = 170.0
    """How long calls may take to settle before the demo gives up."""
    reset: bool = True
    """Start the embedded demo database from scratch (ignored with DATABASE_URL)."""
    calls_per_second: float = 4.0
    media: str = "streams"
    """``sip``: every store's calls in SIP media mode (the emulators bridge and signal them)."""
    history_weeks: int = 3
    """Earlier weeks run before this one on the shifted clock (0: this week only)."""


class DemoFailed(CallEngineError):
    """The demo could not run to its end."""


class EmulatorProcess:
    """``callengine emulate`` in a child process; its settings come from its first output lines."""

    def __init__(self, speed: float, log_path: Path, sip_webhook_url: str | None = None) -> None:
        self.speed = speed
        self.sip_webhook_url = sip_webhook_url
        self.log_path = log_path
        self._proc: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None

    def start(self, timeout_s: float = 60.0) -> dict[str, str]:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("w", encoding="utf-8")
        cmd = [sys.executable, "-m", "engine.cli", "emulate", "--speed", f"{self.speed:g}"]
        if self.sip_webhook_url:
            cmd += ["--sip-webhook-url", self.sip_webhook_url]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._log, text=True)
        assert self._proc.stdout is not None
        values: dict[str, str] = {}
        deadline = time.monotonic() + timeout_s
        while not all(k in values for k in _EMULATOR_KEYS):
            if time.monotonic() > deadline:
                raise DemoFailed("the emulators did not report their settings in time")
            line = self._proc.stdout.readline()
            if not line:
                raise DemoFailed(f"the emulators exited early (see {self.log_path})")
            key, sep, value = line.strip().partition("=")
            if sep:
                values[key] = value
        return values

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()
        if self._log is not None:
            self._log.close()


def demo_env(
    base: dict[str, str],
    emulator: dict[str, str],
    options: DemoOptions,
    backend: dict[str, str] | None = None,
    clock_file: Path | None = None,
) -> dict[str, str]:
    """The engine's environment for the demo: emulators, compressed time, its own data dir,
    the demo backend's webhook endpoint and the shifted clock's offset file."""
    env = dict(base)
    env.update(emulator)
    env.update(backend or {})
    if clock_file is not None:
        env["CALLENGINE_CLOCK_OFFSET_FILE"] = str(clock_file)
    speed = options.speed
    defaults = Settings.from_env({})
    data_root = Path(base.get("CALLENGINE_DATA_DIR") or defaults.database.data_dir)
    env["CALLENGINE_DATA_DIR"] = str(data_root / "demo")
    # The scenarios' time runs `speed` times faster; the engine's timers follow.
    env.setdefault(
        "CALLENGINE_SILENCE_NUDGE_SECONDS", f"{defaults.session.silence_nudge_seconds / speed:.3f}"
    )
    env.setdefault(
        "CALLENGINE_SILENCE_HANGUP_SECONDS", f"{defaults.session.silence_hangup_seconds / speed:.3f}"
    )
    # Not the maximum call length: Twilio's TimeLimit (max_call_seconds + 60) counts emulated seconds,
    # so compressing it would cut a slow customer's interview short. The emulator's limit applies.
    env.setdefault(
        "CALLENGINE_CLOSING_SILENCE_SECONDS", f"{defaults.session.closing_silence_seconds / speed:.3f}"
    )
    # Retries in seconds, not hours, so "no answer, then answered on retry" fits in the demo.
    env.setdefault("CALLENGINE_RETRY_BACKOFF", "2,3,4")
    # The demo runs at any hour; real deployments keep call windows on.
    env.setdefault("CALLENGINE_RESPECT_CALL_WINDOWS", "false")
    env.setdefault("TWILIO_CALLS_PER_SECOND", f"{options.calls_per_second:g}")
    # The scenarios plant repeat callers (several purchases in a week, compressed into minutes);
    # the per-number cooldown would refuse them. Real deployments keep it on.
    env.setdefault("CALLENGINE_NUMBER_COOLDOWN_SECONDS", "0")
    env.setdefault("CALLENGINE_ASSESSOR_ACTORS", "1")
    env.setdefault("CALLENGINE_FRAUD_ACTORS", "1")
    env.setdefault("CALLENGINE_GRPC_BIND_HOST", "127.0.0.1")
    if "CALLENGINE_ANALYSIS_CONFIG" not in env:
        env["CALLENGINE_ANALYSIS_CONFIG"] = str(write_analysis_config(options))
    if options.media == "sip":
        # One host on a known port takes OpenAI's webhook (a deployment points the webhook at its
        # proxy, which may send it to any host: the host forwards it by Ray to the session's own).
        env["CALLENGINE_MEDIA_MODE"] = "sip"
        env.setdefault("OPENAI_SIP_PROJECT_ID", "proj_demo")
    return env


def write_analysis_config(options: DemoOptions) -> Path:
    """Analysis overrides for compressed time (every other threshold keeps its default).

    Calls last 1/speed of their real length, so the "implausibly short call" bound
    is scaled the same way; purchases keep their weekday and hour (see
    ``plan.rebase``), so they may lie up to a week back.
    """
    from engine.analysis.config import DEFAULT_CONFIG

    path = options.out_dir.resolve() / "analysis-demo.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    min_call = DEFAULT_CONFIG.fraud.min_call_seconds / options.speed
    path.write_text(
        "# Written by callengine demo: analysis thresholds for compressed time.\n"
        "[fraud]\n"
        f"min_call_seconds = {min_call:.3f}\n"
        "max_verification_gap_hours = 192.0\n",
        encoding="utf-8",
    )
    return path


def stop_embedded(pgdata: Path, timeout_s: float = 30.0) -> None:
    """Fast-shut-down the demo's embedded server if it still runs (its postmaster gets SIGINT).

    Ray actors open the embedded database too. Releasing it forgets those already
    dead (``storage.embedded``), but a worker Ray is still tearing down counts as a
    user and would keep the server alive after the demo, so the demo, which owns its
    data directory, ends it explicitly.
    """
    pid_file = pgdata / "postmaster.pid"
    try:
        pid = int(pid_file.read_text(encoding="utf-8").splitlines()[0])
    except (OSError, ValueError, IndexError):
        return
    import psutil

    try:
        postmaster = psutil.Process(pid)
        postmaster.send_signal(signal.SIGINT)  # PostgreSQL's "fast" shutdown
        postmaster.wait(timeout_s)
    except psutil.NoSuchProcess:
        return
    except psutil.TimeoutExpired:
        log.warning("embedded PostgreSQL (pid %d) did not stop within %.0f s", pid, timeout_s)


def reset_embedded(data_dir: Path) -> None:
    """Remove the demo's embedded database (stopping a server left behind by a crashed run)."""
    pgdata = data_dir / "pgdata"
    if not pgdata.exists():
        return
    stop_embedded(pgdata)
    shutil.rmtree(pgdata, ignore_errors=True)


@contextlib.contextmanager
def engine_running(settings: Settings) -> Iterator[str]:
    """Database migrated, Ray up, engine actors and the front door started; yields its address."""
    with contextlib.ExitStack() as stack:
        if settings.database.url is None:
            # Hold the embedded server for the whole run: actors open it too, and a
            # killed actor must neither stop it under the others nor leave it behind.
            from storage.embedded import held

            pgdata = settings.database.data_dir / "pgdata"
            stack.callback(stop_embedded, pgdata)
            stack.enter_context(held(pgdata))
        yield stack.enter_context(_engine_actors(settings))


@contextlib.contextmanager
def _engine_actors(settings: Settings) -> Iterator[str]:
    import ray

    from actors import bootstrap
    from actors._ray import CALL_HUB, CONTROL
    from actors.ingress import INGRESS_RESOURCE, start_ingress, stop_ingress
    from storage import Database

    db = asyncio.run(Database.open(settings))
    local = not settings.ray_address
    ingresses = []
    try:
        bootstrap.ensure_ray(
            settings,
            # address="local": always a fresh cluster of our own, never someone else's on this machine.
            **(
                {
                    "address": "local",
                    "resources": {INGRESS_RESOURCE: 1, CALL_HUB: 4, CONTROL: 1},
                    "include_dashboard": False,
                    "log_to_driver": False,
                }
                if local
                else {}
            ),
        )
        bootstrap.start_engine(settings)
        ingresses = start_ingress(settings, 0)
        yield ingresses[0].address
    finally:
        if ingresses:
            stop_ingress(ingresses, 5.0)
        if local:
            bootstrap.stop_engine(drain_hosts=False, timeout=30.0)
            ray.shutdown()
        asyncio.run(db.close())


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_demo(options: DemoOptions) -> int:
    """Run the whole demo; returns the process exit code (0 = everything went as planned)."""
    from rich.console import Console

    from engine.demo.backend import DemoBackend
    from engine.demo.client import DemoClient
    from engine.demo.plan import plan_weeks
    from engine.demo.summary import print_summary
    from engine.domain import MAX_RETRIES
    from engine.emulators.scenarios.loader import default_scenarios

    console = Console()
    started = time.monotonic()
    scenarios = default_scenarios()
    out_dir = options.out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    local = not (os.environ.get("DATABASE_URL") or os.environ.get("RAY_ADDRESS"))
    if local and os.environ.pop(SECRETS_DIR_ENV, ""):
        # A secrets directory would win over the demo's own values (the emulators' credentials,
        # its backend's signing secret): a local demo shares its secrets through a fresh one.
        console.print(f"{SECRETS_DIR_ENV} ignored: the local demo uses its own secrets")
    history = options.history_weeks if local else 0
    if options.history_weeks and not local:
        console.print("earlier weeks need a purely local run (a shifted clock); showing this week only")
    weeks = plan_weeks(
        scenarios,
        max_attempts=MAX_RETRIES + 1,
        history_weeks=history,
        per_store=1 if options.calls is not None and options.calls <= 10 else 2,
        limit=options.calls,
    )
    total = sum(len(w.calls) for w in weeks)
    host_port = _free_port() if options.media == "sip" else None
    webhook = f"http://127.0.0.1:{host_port}/openai/sip" if host_port else None
    emulators = EmulatorProcess(options.speed, out_dir / "emulators.log", sip_webhook_url=webhook)
    backend = DemoBackend(out_dir / "backend")
    console.print(
        f"[bold]callengine demo[/bold]: {total} calls over {len(scenarios.stores)} stores in "
        f"{len(weeks)} week{'s' if len(weeks) != 1 else ''} ({len(weeks[-1].calls)} this week)"
        + (" over SIP" if options.media == "sip" else "")
    )
    clock_file: Path | None = None
    try:
        emulator_env = emulators.start()
        backend_env = backend.start()
        console.print(f"backend service receiving signed webhooks at {backend.url}")
        if history:
            clock_file = out_dir / "clock-offset"
        env = demo_env(dict(os.environ), emulator_env, options, backend_env, clock_file)
        if host_port is not None:
            env["CALLENGINE_HOST_PORT"] = str(host_port)
        settings = Settings.from_env(env)
        if settings.database.url is None and options.reset:
            reset_embedded(settings.database.data_dir)
        where_db = (
            "DATABASE_URL"
            if settings.database.url
            else f"embedded PostgreSQL in {settings.database.data_dir}"
        )
        console.print(
            f"database: {where_db}; Ray: {settings.ray_address or 'local'}; speed ×{options.speed:g}"
        )
        with engine_running(settings) as address:
            console.print(f"gRPC front door: {address}")
            client = DemoClient(address, settings, console)
            result = asyncio.run(
                client.run(weeks, scenarios, out_dir, timeout_s=options.timeout_s, clock_file=clock_file)
            )
            settled = {c.session_id for w in result.weeks for c in w.calls.values() if c.status.terminal}
            # deliveries are asynchronous (and retried): give the last ones a moment to arrive
            backend.wait_for_settled(settled, 60.0)
        elapsed = time.monotonic() - started
        return print_summary(console, weeks, result, backend, out_dir, elapsed)
    except CallEngineError as exc:
        console.print(f"[red]demo failed:[/red] {exc}")
        return 1
    finally:
        backend.stop()
        emulators.stop()
        if clock_file is not None:
            clock_file.unlink(missing_ok=True)
