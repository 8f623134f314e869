"""Wiring: config -> bus, storage, PBX drivers, runtime, live figures, HTTP API, as named
components a small supervisor starts in order and stops in reverse (components.py)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select

from callcenter.alerts.service import AlertService
from callcenter.alerts.settings import load_alerts
from callcenter.api.console import LiveFeed, check_vendor
from callcenter.api.http import build_app
from callcenter.asr.transcriber import Transcriber
from callcenter.asr.worker import TranscriptionPool
from callcenter.bus import Bus
from callcenter.components import Component, HttpServer, Step, Supervisor, Task
from callcenter.config import NO_PBX, Config, recordings_root
from callcenter.data.crypto import FieldCipher, load_cipher
from callcenter.data.jobs import FIRST_JOBS_AFTER, DataJobs
from callcenter.decisions.log import DecisionLog
from callcenter.decisions.settings import load_decision_settings
from callcenter.ha import ACTIVE, SINGLE, Lease, check_storage, fence, standby_app
from callcenter.inspection.config import load_inspection
from callcenter.inspection.worker import run_inspection
from callcenter.live import LiveTranscription
from callcenter.live_figures.metrics import Metrics
from callcenter.live_figures.model import LiveFigures
from callcenter.outbound import callback_store
from callcenter.outbound.surveys import SurveyDialer
from callcenter.pbx.base import PbxDriver
from callcenter.pbx.registry import live_listener, wing
from callcenter.queue_log import Member, QueueLogWriter, queue_start_line
from callcenter.recordings.indexer import RecordingIndexer
from callcenter.recordings.retention import purge
from callcenter.runtime import Runtime
from callcenter.storage.database import Database
from callcenter.storage.recorder import CallRecorder
from callcenter.storage.schema import Ticket
from callcenter.tickets import text as segment
from callcenter.tickets.calls import CallTicketMaker
from callcenter.tickets.settings import load_ticket_settings
from callcenter.tomlreader import ConfigError
from callcenter.transcription import DatabaseJobs, TranscriptionService

log = logging.getLogger(__name__)

# The recorder writes a batch this long after its first event: the call's routing (offer,
# Redirect, Dial) goes first, and a join with its offer is one transaction, not two.
RECORD_LINGER = 0.05
# How long a thread running Python (a storage write, the decision log's writer) may keep the
# interpreter once the owner task wants it back: CPython's default is 5 ms, paid by a caller
# whose join arrives during a write.
SWITCH_INTERVAL = 0.0005


def tune_interpreter() -> None:
    """Before the owner task starts: a shorter GIL switch interval (SWITCH_INTERVAL), and the
    objects the start made (modules, config, the database's mappings: some hundred thousand)
    moved out of the collector's sight (gc.freeze), so that a full collection later scans what
    routing made since, not the whole heap. A full collection over the unfrozen heap took 50
    to 600 ms on the loaded 2-core bench machine, stalling every event of that moment."""
    sys.setswitchinterval(SWITCH_INTERVAL)
    gc.collect()
    gc.freeze()


@dataclass
class ServiceOptions:
    db_url: str = ""
    queue_log: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = 0  # 0: no HTTP API
    # node -> the secret of its control link (else from where its settings say)
    secrets: dict[str, str] = field(default_factory=dict)
    workdir: Path = field(default_factory=Path.cwd)
    cipher: FieldCipher | None = None  # else the keys of the environment (load_cipher)
    open_loopback: bool = False  # no token configured: loopback clients are the local admin


def storage_url(config: Config, options: ServiceOptions) -> str:
    url = options.db_url or os.environ.get("CALLCENTER_DB_URL") or config.storage.url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        path = options.workdir / url[len("sqlite:///") :]
        url = f"sqlite:///{path}"
    return url


def build_drivers(config: Config, options: ServiceOptions) -> dict[str, PbxDriver]:
    """One driver per node, from its kind's wing (the config loader accepted only known kinds)."""
    extensions = {a.id: a.extension for a in config.agents}
    drivers: dict[str, PbxDriver] = {}
    for node in config.nodes:
        secret = options.secrets.get(node.name) or node.secret()
        drivers[node.name] = wing(node.kind).driver(node, extensions, secret)
    return drivers


class Service:
    def __init__(self, config: Config, options: ServiceOptions) -> None:
        if not config.nodes:  # an engine without a PBX would run and take no call
            raise ConfigError(f"{config.source_dir.name}/center.toml", "pbx.nodes", NO_PBX)
        self.config = config
        self.options = options
        self.bus = Bus()
        self.figures = LiveFigures(config.center.timezone)  # fed by the console feed's task
        self.metrics = Metrics(self.figures)
        # GB/T 44192 8: no data key, no service (KeyConfigError: one line, nothing written)
        self.cipher = options.cipher or load_cipher()
        self.database = Database(storage_url(config, options))
        for kind in {node.kind for node in config.nodes}:
            # imported now, before the event loop runs: a wing's sandbox half brings pypinyin,
            # whose dictionaries take half a second to load (a stall at the link's first call)
            wing(kind)
        self.lease: Lease | None = None  # [ha]: run only while holding the active lock
        if config.ha.enabled:
            check_storage(f"{config.source_dir.name}/center.toml", self.database.url)
            self.lease = Lease(self.database.url, config.ha)
        queue_log = options.queue_log or config.storage.queue_log
        path = Path(queue_log)
        if not path.is_absolute():
            path = options.workdir / path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.queue_log = QueueLogWriter(path, queue_members(config))
        self.ticket_settings = load_ticket_settings(config.source_dir)
        decisions = load_decision_settings(config.source_dir)  # a bad file: ConfigError
        self.decisions: DecisionLog | None = None
        if decisions.enabled:
            self.decisions = DecisionLog(
                decisions.path(options.workdir),
                decisions.keep_days,
                decisions.queue_size,
                ZoneInfo(config.center.timezone),
                decisions.top,
            )
        self.asr_pool: TranscriptionPool | None = None
        self.live: LiveTranscription | None = None
        self.runtime: Runtime | None = None
        self._stopping = asyncio.Event()
        self._preloaded: Transcriber | None = None  # the live ASR model a standby loaded
        self._engine: Task | None = None  # the runtime's owner task, once started

    def stop(self) -> None:
        self._stopping.set()

    async def _retention(self) -> None:
        """Apply the recordings retention policy at start and then once a day."""
        root = recordings_root(self.config, self.options.workdir)
        days = self.config.recordings.retention_days
        while not self._stopping.is_set():
            gone = await asyncio.to_thread(
                self.database.transaction, lambda s: purge(s, root, time.time(), days)
            )
            for p in gone:
                log.info(
                    "retention: deleted recording %s (%d bytes): %s",
                    p.call_id,
                    p.bytes,
                    ", ".join(p.files),
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), 24 * 3600)

    async def _alerts(self, every: float = 15.0) -> None:
        """Early warning: every new ticket, whatever made it (a call, the API, SMS, a form),
        goes through the detectors; warnings go to the store, the bus and the webhook."""
        try:
            settings = load_alerts(self.config.source_dir)
        except ConfigError as exc:
            log.error("early warning off: %s", exc)
            return
        alerts = AlertService(self.database, settings, self.ticket_settings, self.bus, self.cipher)
        since = time.time()
        await asyncio.to_thread(alerts.warm, since)
        seen: dict[int, float] = {}
        while not self._stopping.is_set():
            try:
                fresh = await asyncio.to_thread(self._tickets_since, since - 120)
                for ticket_id, at in fresh:
                    if ticket_id not in seen:
                        seen[ticket_id] = at
                        await alerts.on_ticket(ticket_id)
                        since = max(since, at)
                seen = {k: v for k, v in seen.items() if v >= since - 600}
            except Exception:  # noqa: BLE001 - a database hiccup: logged, retried next round
                log.exception("early warning: checking new tickets failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), every)

    def _tickets_since(self, since: float) -> list[tuple[int, float]]:
        with self.database.session() as s:
            rows = s.execute(
                select(Ticket.id, Ticket.created_at)
                .where(Ticket.created_at >= since)
                .order_by(Ticket.created_at, Ticket.id)
            )
            return [(int(i), float(at)) for i, at in rows]

    async def _inspection(self) -> None:
        """Score every transcribed call by the quality-inspection rules (智能质检)."""
        try:
            rules = load_inspection(self.config.source_dir)
        except ConfigError as exc:
            log.error("quality inspection off: %s", exc)
            return
        await run_inspection(self.database, rules, self._stopping, asyncio.Event())

    def _model_path(self) -> Path:
        model = Path(self.config.asr.model_dir)
        return model if model.is_absolute() else self.options.workdir / model

    def _live_transcription(self) -> LiveTranscription | None:
        asr = self.config.asr
        if not asr.model_dir or not asr.live_address:
            return None
        path = self._model_path()
        return LiveTranscription(
            self.bus,
            self.bus.subscribe("live-transcription"),
            start_stream=lambda *args: None,  # the runtime's, once it exists
            transcriber=lambda: self._preloaded or Transcriber(path),
            address=asr.live_address,
            listener=live_listener(node.kind for node in self.config.nodes),
            max_streams=asr.live_streams,
        )

    def _transcription(self) -> TranscriptionService | None:
        """Transcription in worker processes, when a model directory is configured."""
        model = self.config.asr.model_dir
        if not model:
            log.info("no [asr] model_dir configured: recordings are not transcribed")
            return None
        path = self._model_path()
        self.asr_pool = TranscriptionPool(path, workers=self.config.asr.workers)
        jobs = DatabaseJobs(
            self.database, recordings_root(self.config, self.options.workdir), self.ticket_settings
        )
        return TranscriptionService(jobs, self.asr_pool, self.config.asr.max_attempts)

    async def _standby(self, lease: Lease) -> bool:
        """Wait as the standby (health only, no PBX link, no job) until this process holds the
        active lock; then let the old holder's fencing deadline pass. False: stopped first."""
        # meanwhile the live ASR model is loaded (seconds; a real Mandarin model far longer),
        # so it does not delay the takeover: loading it acts on nothing and writes nothing
        preload = Task("ha-preload", self._preload, cancel=True)
        standby: list[Component] = [preload]  # all a standby runs
        if self.options.http_port:
            app = standby_app(lease, preload.done)
            standby.append(HttpServer("standby-http", app, *self._address()))
        supervisor = Supervisor()
        try:
            await supervisor.start(*standby)
            if not await lease.acquire(self._stopping):
                return False
            lease.hold(fence)  # from now on: losing the lock ends this process
            await preload.wait()
        finally:
            await supervisor.stop()
        with contextlib.suppress(TimeoutError):  # the old holder has exited by then
            await asyncio.wait_for(self._stopping.wait(), lease.fence_wait)
        return not self._stopping.is_set()

    async def _preload(self) -> None:
        asr = self.config.asr
        if asr.model_dir and asr.live_address:
            try:
                self._preloaded = await asyncio.to_thread(Transcriber, self._model_path())
            except Exception:  # noqa: BLE001 - loaded (and its error raised) again at start
                log.exception("ha: preloading the live ASR model failed")

    def _address(self) -> tuple[str, int]:
        return self.options.http_host, self.options.http_port

    async def run(
        self, on_ready: Callable[[Runtime], Coroutine[Any, Any, None]] | None = None
    ) -> None:
        if self.lease is not None and not await self._standby(self.lease):
            await asyncio.to_thread(self.lease.close)
            self.database.close()
            return
        try:
            await self._run(on_ready)
        finally:
            if self.lease is not None:  # after every PBX link is closed: then the lock goes
                await asyncio.to_thread(self.lease.close)

    async def _run(
        self, on_ready: Callable[[Runtime], Coroutine[Any, Any, None]] | None = None
    ) -> None:
        """Start the components in order (storage first, the runtime's owner task last), wait
        for a stop or for the owner task to end, stop them in reverse order."""
        supervisor = Supervisor(self._stopping)  # its stop sets it: the daily tasks end
        # the word segmenter loads while storage starts, and is loaded before any call: its
        # load holds the interpreter for about a second, a stall of every event of that
        # moment had the first call's ticket loaded it
        segmenter = asyncio.create_task(asyncio.to_thread(segment.warm))
        try:
            await supervisor.start(
                Step("database", self._upgrade, self._close_database),
                Step("queue-log", self._queue_start),
            )
            runtime = await self._restore()
            await supervisor.start(*await self._around(runtime))
            await segmenter
            await supervisor.start(*self._engine_parts(runtime, on_ready))
            await self._until_stopped()
        finally:
            segmenter.cancel()  # a start that failed: nobody waits for it
            await supervisor.stop()

    async def _upgrade(self) -> None:
        await asyncio.to_thread(self.database.upgrade, self.cipher)

    async def _close_database(self) -> None:
        self.database.close()

    async def _queue_start(self) -> None:
        self.queue_log.write(queue_start_line(time.time()))  # as app_queue's when it starts
        self.queue_log.flush()

    async def _restore(self) -> Runtime:
        """The runtime, with what a restart restores: agents' statuses, the last day's callers,
        pending callbacks, today's missed-call tasks."""
        statuses = await asyncio.to_thread(self.database.load_agent_statuses)
        since = time.time() - 24 * 3600
        recent = await asyncio.to_thread(self.database.recent_callers, since)
        callbacks = await asyncio.to_thread(callback_store.pending, self.database, self.cipher)
        missed = await asyncio.to_thread(callback_store.missed_since, self.database, since)
        runtime = Runtime(
            self.config,
            build_drivers(self.config, self.options),
            self.bus,
            agent_statuses=statuses,
            recent_callers=recent,
            pending_callbacks=callbacks,
            caller_key=self.cipher.phone_index,
            decisions=self.decisions,
            missed_since=missed,
        )
        runtime.role = ACTIVE if self.lease is not None else SINGLE
        self.runtime = runtime
        return runtime

    async def _around(self, runtime: Runtime) -> list[Component]:
        """Every part around the runtime, in start order, each subscribed to the bus before
        the runtime publishes."""
        recorder = CallRecorder(
            self.database,
            self.bus.subscribe("storage"),
            self.queue_log,
            cipher=self.cipher,
            linger=RECORD_LINGER,
        )
        self.indexer = RecordingIndexer(
            self.database,
            recordings_root(self.config, self.options.workdir),
            self.bus.subscribe("recordings"),
            transcribe=bool(self.config.asr.model_dir),
        )
        self.call_tickets = CallTicketMaker(
            self.database, self.ticket_settings, self.bus.subscribe("tickets"), self.cipher
        )
        transcriber = self._transcription()
        swept = await asyncio.to_thread(self.indexer.sweep)
        if swept:
            log.info("indexed %d recordings found on disk", swept)
        if transcriber is not None:
            self.indexer.on_indexed = transcriber.wake  # from the event loop from now on
        self.live = self._live_transcription()
        self.surveys = SurveyDialer(
            self.database,
            self.config.outbound,
            self.ticket_settings,
            self.bus.subscribe("surveys"),
            runtime.survey_call,
            self.cipher,
        )
        self.data_jobs = DataJobs(
            self.config.source_dir,
            self.database.url,
            self.database,
            self._stopping,
            zone=ZoneInfo(self.config.center.timezone),
            first_after=FIRST_JOBS_AFTER,
        )
        self.feed = LiveFeed(self.figures, runtime)
        if any(a.browser_phone for a in self.config.agents):
            check_vendor()
        console = self.bus.subscribe("console")
        parts: list[Component] = []
        if self.decisions is not None:
            decisions = self.decisions
            parts.append(Step("decisions", _call(decisions.start), _thread(decisions.close)))
        if self.live is not None:
            live = self.live
            live.start_stream = runtime.stream_audio
            parts.append(Step("live-transcription-server", live.start, live.close))
        parts += [
            Task("storage", recorder.run),
            Task(
                "metrics-storage",
                lambda: self.metrics.refresh_storage(self.database, 15.0, self._stopping),
            ),
            Task("recordings", self.indexer.run),
            Task("call-tickets", self.call_tickets.run),
            Task("retention", self._retention),
        ]
        if self.live is not None:
            parts.append(Task("live-transcription", self.live.run))
        parts += [
            Task("surveys", self.surveys.run),
            Task("data-jobs", self.data_jobs.run),
            Task("inspection", self._inspection),
            Task("alerts", self._alerts),
            Task("console", lambda: self.feed.run(console)),
        ]
        # stopped after the runtime, before the subscribers above: they drain and end
        parts.append(Step("bus", stop=self._close_bus))
        if transcriber is not None:
            parts.append(self._transcription_task(transcriber))
        if self.options.http_port:
            parts.append(HttpServer("http", self._app(runtime), *self._address()))
        return parts

    def _engine_parts(
        self, runtime: Runtime, on_ready: Callable[[Runtime], Coroutine[Any, Any, None]] | None
    ) -> list[Component]:
        """The runtime's owner task, after the interpreter is tuned; then `on_ready`, once
        the runtime has started."""
        engine = Task("runtime", runtime.run, signal=runtime.stop)
        self._engine = engine
        parts: list[Component] = [
            Step("interpreter", _call(tune_interpreter)),
            engine,
            Step("runtime-started", self._runtime_started),
        ]
        if on_ready is not None:
            parts.append(Task("on-ready", lambda: on_ready(runtime), cancel=True))
        return parts

    def _transcription_task(self, transcriber: TranscriptionService) -> Task:
        """Transcription of stored recordings: stopped by its own event (and a wake, should it
        be waiting for work); its worker processes go with it."""
        stop = asyncio.Event()

        def signal() -> None:
            stop.set()
            transcriber.wake()

        async def close_pool() -> None:
            if self.asr_pool is not None:
                await asyncio.to_thread(self.asr_pool.close)

        return Task("transcription", lambda: transcriber.run(stop), signal=signal, after=close_pool)

    def _app(self, runtime: Runtime) -> web.Application:
        return build_app(
            runtime,
            self.figures,
            self.database,
            recordings_root(self.config, self.options.workdir),
            self.ticket_settings,
            self.options.workdir / "var" / "attachments",
            self.live,
            self.metrics,
            self.feed,
            self.cipher,
            open_loopback=self.options.open_loopback,
        )

    async def _close_bus(self) -> None:
        """Once the runtime, the bus's publisher, has stopped (or never started): the
        subscribers' streams end."""
        self.bus.close()

    async def _runtime_started(self) -> None:
        """Until the runtime has started (its links up, state restored)."""
        assert self.runtime is not None
        await self._unless_engine_ends(self.runtime.started)

    async def _until_stopped(self) -> None:
        """Until stop() or the runtime's owner task ends."""
        await self._unless_engine_ends(self._stopping)

    async def _unless_engine_ends(self, event: asyncio.Event) -> None:
        """Until `event` is set; the error of the runtime's owner task if it ended first (a
        crash surfaces here)."""
        assert self._engine is not None
        waiting = asyncio.ensure_future(event.wait())
        ended = asyncio.ensure_future(self._engine.wait())
        await asyncio.wait({waiting, ended}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if ended.done():
            ended.result()
        else:
            ended.cancel()


def _call(function: Callable[[], object]) -> Callable[[], Awaitable[None]]:
    """A plain call as a component's start or stop."""

    async def call() -> None:
        function()

    return call


def _thread(function: Callable[[], object]) -> Callable[[], Awaitable[None]]:
    """A blocking call, on a worker thread, as a component's start or stop."""

    async def call() -> None:
        await asyncio.to_thread(function)

    return call


def queue_members(config: Config) -> dict[str, Member]:
    """Each agent as the queue log names it: the dial string of its phone on the first node
    as interface, the agent's name (else the dial string) as membername."""
    members = {}
    for a in config.agents:
        dial = config.nodes[0].settings.dial(a.extension) if config.nodes else a.extension
        members[a.id] = Member(dial, a.name or dial)
    return members
