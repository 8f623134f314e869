"""Prometheus metrics (prometheus-client), on a registry of their own.

Three sources, none of which blocks the event loop:
- domain events from the bus: counters and histograms (joins, offers, answers, leaves by
  reason, waits, talk, callbacks, surveys, PBX reconnects);
- the runtime's state, read in the loop at scrape time: queue size and longest wait per skill,
  agents by status and state, PBX links, service level;
- storage, read on a worker thread every `refresh` seconds: the ASR backlog and latency, tickets
  by status and overdue, callbacks and surveys by state, today's 漏接回拨 (missed callers,
  callback rate, time to callback p50/p90: the same figures as the reports, so a restart
  loses none).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client import Counter as PCounter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter import domain
from callcenter.bus import Subscription
from callcenter.reports.query import MissedCounts, Period, missed_totals
from callcenter.runtime import Runtime
from callcenter.storage.database import Database
from callcenter.storage.schema import AsrJob, CallbackRecord, Survey, Ticket
from callcenter.tickets.model import OPEN_STATUSES

log = logging.getLogger(__name__)

WAIT_BUCKETS = (1, 5, 10, 15, 20, 30, 60, 120, 300, 600, 1800)
TALK_BUCKETS = (10, 30, 60, 120, 180, 300, 600, 1200, 3600)
CALLBACK_BUCKETS = (60, 300, 600, 1800, 3600, 7200, 14400, 28800, 86400)
ASR_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 900, 3600)
SERVICE_LEVELS = (15.0, 20.0)


@dataclass
class _SkillWaits:
    answered: int = 0
    within: Counter[float] = field(default_factory=Counter)
    abandoned: int = 0


@dataclass(frozen=True)
class StoredCounts:
    asr_pending: int = 0
    asr_failed: int = 0
    asr_latencies: tuple[float, ...] = ()  # jobs finished since the last read
    tickets: tuple[tuple[str, int], ...] = ()
    overdue: int = 0
    callbacks: tuple[tuple[str, int], ...] = ()
    surveys: tuple[tuple[str, int], ...] = ()
    missed_today: MissedCounts = MissedCounts()


class Metrics:
    def __init__(
        self, clock: Callable[[], float] = time.time, timezone: str = "Asia/Shanghai"
    ) -> None:
        self.clock = clock
        self.zone = ZoneInfo(timezone)  # where "today" starts for the 漏接回拨 figures
        self.registry = CollectorRegistry()
        r = self.registry
        self.joined = PCounter(
            "callcenter_callers_joined", "Callers who joined the queue", ["skill"], registry=r
        )
        self.offers = PCounter("callcenter_offers", "Offers made to agents (rings)", registry=r)
        self.rejected = PCounter(
            "callcenter_offers_not_answered",
            "Offers an agent did not take, by outcome (no_answer, refused, failed, unreachable)",
            ["reason"],
            registry=r,
        )
        self.answered = PCounter(
            "callcenter_calls_answered", "Callers connected to an agent", ["skill"], registry=r
        )
        self.left = PCounter(
            "callcenter_callers_left",
            "Callers who left the queue, by reason (answered, abandoned, timeout, callback ...)",
            ["skill", "reason"],
            registry=r,
        )
        self.waits = Histogram(
            "callcenter_wait_seconds",
            "Time in queue of answered callers",
            ["skill"],
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.abandon_waits = Histogram(
            "callcenter_abandon_wait_seconds",
            "Time in queue of callers who hung up waiting",
            ["skill"],
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.talk = Histogram(
            "callcenter_talk_seconds",
            "Talk time of finished calls",
            buckets=TALK_BUCKETS,
            registry=r,
        )
        self.reconnects = PCounter(
            "callcenter_pbx_link_changes",
            "PBX link up/down transitions",
            ["node", "up"],
            registry=r,
        )
        self.callbacks = PCounter(
            "callcenter_callbacks", "Callbacks requested and closed", ["outcome"], registry=r
        )
        self.callback_attempts = PCounter(
            "callcenter_callback_attempts", "Stages of callback attempts", ["outcome"], registry=r
        )
        self.missed = PCounter(
            "callcenter_missed_callers",
            "Callers who left the queue unanswered (漏接), by reason and what became of them "
            "(task, merged, repeat, misdial, undialable)",
            ["reason", "outcome"],
            registry=r,
        )
        self.time_to_callback = Histogram(
            "callcenter_missed_callback_seconds",
            "From a caller's miss to the first call back to it (漏接回拨)",
            buckets=CALLBACK_BUCKETS,
            registry=r,
        )
        self.survey_calls = PCounter(
            "callcenter_survey_calls", "Survey call results", ["result"], registry=r
        )
        self.emergency = PCounter(
            "callcenter_emergency_links", "Emergency transfer steps", ["line", "status"], registry=r
        )
        # state read at scrape time
        self.queue = Gauge(
            "callcenter_queue_callers", "Callers in the queue", ["skill", "state"], registry=r
        )
        self.longest = Gauge(
            "callcenter_queue_longest_wait_seconds", "Longest current wait", ["skill"], registry=r
        )
        self.agents = Gauge(
            "callcenter_agents", "Agents by status and state", ["status", "state"], registry=r
        )
        self.pbx_up = Gauge(
            "callcenter_pbx_up", "PBX link up (1) or down (0)", ["node"], registry=r
        )
        self.auto_paused = Gauge(
            "callcenter_agents_auto_paused",
            "Logged-in agents paused by the engine after unanswered offers",
            registry=r,
        )
        self.auto_pause_alert = Gauge(
            "callcenter_auto_pause_alert",
            "1 while more than queue.auto_pause_share_alert of logged-in agents is auto-paused",
            registry=r,
        )
        self.unreachable = Gauge(
            "callcenter_agents_unreachable",
            "Logged-in agents whose phone cannot be reached (unregistered or failing qualify)",
            registry=r,
        )
        self.decisions_dropped = Gauge(
            "callcenter_decision_log_dropped",
            "Decision log records dropped since start because the writer's queue was full",
            registry=r,
        )
        self.decisions_backlog = Gauge(
            "callcenter_decision_log_backlog",
            "Decision log records waiting for the writer thread",
            registry=r,
        )
        self.service_level = Gauge(
            "callcenter_service_level",
            "Share of answered callers answered within the threshold (since start)",
            ["skill", "threshold"],
            registry=r,
        )
        self.abandon_rate = Gauge(
            "callcenter_abandon_rate",
            "Abandoned over answered + abandoned (since start)",
            ["skill"],
            registry=r,
        )
        # storage, refreshed in the background
        self.asr_backlog = Gauge("callcenter_asr_backlog", "Transcriptions waiting", registry=r)
        self.asr_failed = Gauge("callcenter_asr_failed", "Transcriptions that failed", registry=r)
        self.asr_latency = Histogram(
            "callcenter_asr_latency_seconds",
            "From a recording indexed to its transcript stored",
            buckets=ASR_BUCKETS,
            registry=r,
        )
        self.tickets = Gauge("callcenter_tickets", "Tickets by status", ["status"], registry=r)
        self.overdue = Gauge(
            "callcenter_tickets_overdue", "Open tickets past their deadline", registry=r
        )
        self.callback_states = Gauge(
            "callcenter_callbacks_by_state", "Callbacks by state", ["state"], registry=r
        )
        self.survey_states = Gauge("callcenter_surveys", "Surveys by state", ["state"], registry=r)
        self.missed_today = Gauge(
            "callcenter_missed_callers_today",
            "Missed callers of today to call back, called back (dialled), reached",
            ["stage"],
            registry=r,
        )
        self.missed_rate = Gauge(
            "callcenter_missed_callback_rate",
            "漏接回拨率 today: missed callers called back / missed callers",
            registry=r,
        )
        self.missed_quantile = Gauge(
            "callcenter_missed_callback_time_seconds",
            "Time to callback of today's missed callers, by quantile (0.5, 0.9)",
            ["quantile"],
            registry=r,
        )
        self._missed_at: dict[str, float] = {}  # missed-call task -> when the caller left
        self._skill_of: dict[str, str] = {}
        self._skill_waits: dict[str, _SkillWaits] = {}
        self._asr_seen = 0.0

    # --- events ------------------------------------------------------------------------------

    def apply(self, e: domain.DomainEvent) -> None:
        if isinstance(e, domain.CallerJoined):
            if e.call_id not in self._skill_of:
                self._skill_of[e.call_id] = e.skill
                self.joined.labels(e.skill).inc()
        elif isinstance(e, domain.OfferMade):
            self.offers.inc()
        elif isinstance(e, domain.OfferRejected):
            self.rejected.labels(e.reason).inc()
        elif isinstance(e, domain.CallerLeft):
            skill = self._skill_of.get(e.call_id, "")
            self.left.labels(skill, e.reason).inc()
            stats = self._skill_waits.setdefault(skill, _SkillWaits())
            if e.reason == "answered":
                self.answered.labels(skill).inc()
                self.waits.labels(skill).observe(e.waited)
                stats.answered += 1
                for threshold in SERVICE_LEVELS:
                    if e.waited <= threshold:
                        stats.within[threshold] += 1
            elif e.reason == "abandoned":
                self.abandon_waits.labels(skill).observe(e.waited)
                stats.abandoned += 1
        elif isinstance(e, domain.CallFinished):
            self.talk.observe(e.talk_seconds)
        elif isinstance(e, domain.CallClosed):
            self._skill_of.pop(e.call_id, None)
        elif isinstance(e, domain.PbxConnection):
            self.reconnects.labels(e.node, "1" if e.up else "0").inc()
        elif isinstance(e, domain.CallbackRequested):
            self.callbacks.labels("requested" if e.kind == "queued" else "missed").inc()
            if e.kind == "missed":
                self._missed_at[e.call_id] = e.at
        elif isinstance(e, domain.MissedCall):
            self.missed.labels(e.reason, e.outcome).inc()
        elif isinstance(e, domain.CallbackClosed):
            self.callbacks.labels(e.outcome).inc()
            self._missed_at.pop(e.call_id, None)
        elif isinstance(e, domain.CallbackAttempt):
            self.callback_attempts.labels(e.outcome).inc()
            missed_at = self._missed_at.get(e.call_id)
            if e.outcome == "agent" and e.attempt == 1 and missed_at is not None:
                self.time_to_callback.observe(max(0.0, e.at - missed_at))
        elif isinstance(e, domain.SurveyEvent):
            self.survey_calls.labels(e.result).inc()
        elif isinstance(e, domain.EmergencyLinked):
            self.emergency.labels(e.line, e.status).inc()

    async def run(self, subscription: Subscription) -> None:
        async for e in subscription:
            self.apply(e)

    # --- scrape --------------------------------------------------------------------------------

    def observe_runtime(self, runtime: Runtime) -> None:
        """Gauges of the live state (call in the event loop: the owner's data is read)."""
        now = self.clock()
        self.queue.clear()
        self.longest.clear()
        longest: dict[str, float] = {}
        counts: Counter[tuple[str, str]] = Counter()
        for view in runtime.acd.queued():
            kind = "callback" if view.callback else view.state
            counts[(view.skill, kind)] += 1
            if not view.callback:
                longest[view.skill] = max(longest.get(view.skill, 0.0), now - view.arrived_at)
        for (skill, state), n in counts.items():
            self.queue.labels(skill, state).set(n)
        for skill, wait in longest.items():
            self.longest.labels(skill).set(wait)
        self.agents.clear()
        agents: Counter[tuple[str, str]] = Counter(
            (a.status, a.state) for a in runtime.acd.agents()
        )
        for (status, state), n in agents.items():
            self.agents.labels(status, state).set(n)
        alerting, paused, _ = runtime.acd.auto_pause_alert()
        self.auto_paused.set(paused)
        self.auto_pause_alert.set(1 if alerting else 0)
        self.unreachable.set(
            sum(1 for a in runtime.acd.agents() if a.status != "logged_out" and not a.reachable)
        )
        for node, up in runtime.link_up.items():
            self.pbx_up.labels(node).set(1 if up else 0)
        if runtime.decisions is not None:
            self.decisions_dropped.set(runtime.decisions.log.dropped)
            self.decisions_backlog.set(runtime.decisions.log.backlog())
        for skill, s in self._skill_waits.items():
            for threshold in SERVICE_LEVELS:
                share = s.within[threshold] / s.answered if s.answered else 0.0
                self.service_level.labels(skill, f"{threshold:g}").set(share)
            total = s.answered + s.abandoned
            self.abandon_rate.labels(skill).set(s.abandoned / total if total else 0.0)

    def observe_stored(self, counts: StoredCounts) -> None:
        self.asr_backlog.set(counts.asr_pending)
        self.asr_failed.set(counts.asr_failed)
        for latency in counts.asr_latencies:
            self.asr_latency.observe(latency)
        self.tickets.clear()
        for status, n in counts.tickets:
            self.tickets.labels(status).set(n)
        self.overdue.set(counts.overdue)
        self.callback_states.clear()
        for state, n in counts.callbacks:
            self.callback_states.labels(state).set(n)
        self.survey_states.clear()
        for state, n in counts.surveys:
            self.survey_states.labels(state).set(n)
        m = counts.missed_today
        self.missed_today.labels("missed").set(m.missed)
        self.missed_today.labels("called_back").set(m.called_back)
        self.missed_today.labels("reached").set(m.reached)
        self.missed_rate.set(m.called_back / m.missed if m.missed else 0.0)
        self.missed_quantile.clear()
        for quantile, value in (("0.5", m.p50), ("0.9", m.p90)):
            if value is not None:
                self.missed_quantile.labels(quantile).set(value)

    def read_storage(self, session: Session) -> StoredCounts:
        """One read of what storage knows (on a worker thread)."""
        now = self.clock()
        asr = dict(session.execute(select(AsrJob.state, func.count()).group_by(AsrJob.state)).all())
        since, self._asr_seen = self._asr_seen, now
        latencies = tuple(
            float(done - made)
            for done, made in session.execute(
                select(AsrJob.finished_at, AsrJob.created_at).where(
                    AsrJob.state == "done", AsrJob.finished_at > since
                )
            )
            if done is not None
        )
        tickets = session.execute(select(Ticket.status, func.count()).group_by(Ticket.status))
        open_statuses = [s.value for s in OPEN_STATUSES]
        overdue = session.scalar(
            select(func.count()).where(
                Ticket.status.in_(open_statuses),
                Ticket.deadline.is_not(None),
                Ticket.deadline < now,
            )
        )
        callbacks = session.execute(
            select(CallbackRecord.state, func.count()).group_by(CallbackRecord.state)
        )
        surveys = session.execute(select(Survey.state, func.count()).group_by(Survey.state))
        local = datetime.fromtimestamp(now, self.zone)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        missed = missed_totals(session.connection(), Period(midnight, now + 1.0))
        return StoredCounts(
            asr_pending=int(asr.get("pending", 0)),
            asr_failed=int(asr.get("failed", 0)),
            asr_latencies=latencies,
            tickets=tuple((s, int(n)) for s, n in tickets),
            overdue=int(overdue or 0),
            callbacks=tuple((s, int(n)) for s, n in callbacks),
            surveys=tuple((s, int(n)) for s, n in surveys),
            missed_today=missed,
        )

    async def refresh_storage(self, database: Database, every: float, stop: asyncio.Event) -> None:
        """Read storage now and then every `every` seconds until `stop`; a failed read is
        logged and tried again at the next turn."""
        while not stop.is_set():
            try:
                counts = await asyncio.to_thread(database.transaction, self.read_storage)
                self.observe_stored(counts)
            except Exception:
                log.exception("metrics: reading storage failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)

    def exposition(self, runtime: Runtime) -> bytes:
        self.observe_runtime(runtime)
        return generate_latest(self.registry)
