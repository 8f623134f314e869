"""Prometheus metrics (prometheus-client), on a registry of their own.

Three sources, none of which blocks the event loop:
- the live figures (`model.LiveFigures`, counted once from the domain events), read at scrape
  time: counters and histograms (joins, offers, answers, leaves by reason, waits, talk,
  callbacks, surveys, PBX reconnects) and the service level and abandon rate per skill;
- the runtime's state, read in the loop at scrape time: queue size and longest wait per skill,
  agents by status and state, PBX links;
- storage, read on a worker thread every `refresh` seconds: the ASR backlog and latency, tickets
  by status and overdue, callbacks and surveys by state, today's 漏接回拨 (missed callers,
  callback rate, time to callback p50/p90: the same figures as the reports, so a restart
  loses none).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString as _go_float
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.live_figures.model import SERVICE_LEVELS, Distribution, LiveFigures, Tally
from callcenter.reports.query import MissedCounts, Period, missed_totals
from callcenter.runtime import Runtime
from callcenter.storage.database import Database
from callcenter.storage.schema import AsrJob, CallbackRecord, Survey, Ticket
from callcenter.tickets.model import OPEN_STATUSES

log = logging.getLogger(__name__)
le = cast(Callable[[float], str], _go_float)  # a bucket's bound as the client writes it

ASR_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 900, 3600)


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


def _counter(name: str, doc: str, labels: list[str], tally: Tally[Any]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=labels)
    for key, value in tally.counts.items():
        values = list(key) if isinstance(key, tuple) else [key]
        family.add_metric(values, value, created=tally.since[key])
    return family


def _histogram(
    name: str, doc: str, label: str | None, by_label: dict[str, Distribution]
) -> HistogramMetricFamily:
    """A histogram family: one child per label value ("" with no label)."""
    names = [label] if label else []
    family = HistogramMetricFamily(name, doc, labels=names)
    for value, d in by_label.items():
        values = [value] if label else []
        cumulative, buckets = 0.0, []
        for bound, n in zip((*d.bounds, math.inf), d.counts, strict=True):
            cumulative += n
            buckets.append((le(bound), cumulative))
        family.add_metric(values, buckets, d.sum)
        family.samples.append(
            Sample(f"{name}_created", dict(zip(names, values, strict=True)), d.since)
        )
    return family


class EventCounts(Collector):
    """The live figures' since-start counts as Prometheus counters and histograms."""

    def __init__(self, figures: LiveFigures) -> None:
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        f = self.figures
        yield _counter(
            "callcenter_callers_joined",
            "Callers who joined the queue",
            ["skill"],
            f.joined_by_skill,
        )
        offers = CounterMetricFamily("callcenter_offers", "Offers made to agents (rings)")
        offers.add_metric([], f.offered, created=f.started)
        yield offers
        yield _counter(
            "callcenter_offers_not_answered",
            "Offers an agent did not take, by outcome (no_answer, refused, failed, unreachable)",
            ["reason"],
            f.not_answered,
        )
        answered: Tally[str] = Tally()
        for (skill, reason), n in f.left.counts.items():
            if reason == "answered":
                answered.counts[skill] = n
                answered.since[skill] = f.left.since[(skill, reason)]
        yield _counter(
            "callcenter_calls_answered", "Callers connected to an agent", ["skill"], answered
        )
        yield _counter(
            "callcenter_callers_left",
            "Callers who left the queue, by reason (answered, abandoned, timeout, callback ...)",
            ["skill", "reason"],
            f.left,
        )
        yield _histogram(
            "callcenter_wait_seconds",
            "Time in queue of answered callers",
            "skill",
            f.wait_seconds,
        )
        yield _histogram(
            "callcenter_abandon_wait_seconds",
            "Time in queue of callers who hung up waiting",
            "skill",
            f.abandon_seconds,
        )
        yield _histogram(
            "callcenter_talk_seconds", "Talk time of finished calls", None, {"": f.talk_seconds}
        )
        yield _counter(
            "callcenter_pbx_link_changes",
            "PBX link up/down transitions",
            ["node", "up"],
            f.link_changes,
        )
        yield _counter(
            "callcenter_callbacks", "Callbacks requested and closed", ["outcome"], f.callbacks
        )
        yield _counter(
            "callcenter_callback_attempts",
            "Stages of callback attempts",
            ["outcome"],
            f.callback_attempts,
        )
        yield _counter(
            "callcenter_missed_callers",
            "Callers who left the queue unanswered (漏接), by reason and what became of them "
            "(task, merged, repeat, misdial, undialable)",
            ["reason", "outcome"],
            f.missed_callers,
        )
        yield _histogram(
            "callcenter_missed_callback_seconds",
            "From a caller's miss to the first call back to it (漏接回拨)",
            None,
            {"": f.time_to_callback},
        )
        yield _counter("callcenter_survey_calls", "Survey call results", ["result"], f.survey_calls)
        yield _counter(
            "callcenter_emergency_links",
            "Emergency transfer steps",
            ["line", "status"],
            f.emergency,
        )


class Metrics:
    def __init__(self, figures: LiveFigures, clock: Callable[[], float] = time.time) -> None:
        self.figures = figures
        self.clock = clock
        self.zone = ZoneInfo(figures.timezone)  # where "today" starts for the 漏接回拨 figures
        self.registry = CollectorRegistry()
        r = self.registry
        r.register(EventCounts(figures))
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
        self._asr_seen = 0.0

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
        f = self.figures
        for skill in dict.fromkeys(skill for skill, _ in f.left.counts):
            answered, abandoned = f.left[(skill, "answered")], f.left[(skill, "abandoned")]
            for threshold in SERVICE_LEVELS:
                share = f.within[(skill, threshold)] / answered if answered else 0.0
                self.service_level.labels(skill, f"{threshold:g}").set(share)
            total = answered + abandoned
            self.abandon_rate.labels(skill).set(abandoned / total if total else 0.0)

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
