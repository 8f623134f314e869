"""Measure the detectors against the truth of a synthetic year: replay the tickets in the
order they were created, then match warnings to the injected surges and clusters.

A surge or cluster warning (kinds surge, cluster, repeat_problem) *matches* an injected event
when it shares a ticket with the event's extra tickets, or when it was detected between the
event's onset and `grace` after its end, in the event's district (or city-wide) and on its
topic (or all topics). Detection rate = events matched / events injected; delay = first
matching detected_at - onset; false alarms = warnings of those kinds matching no event, per
day of the year. Sensitive, group and repeated-caller warnings have no truth: they are
counted per day."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from callcenter.alerts.engine import AlertEngine, Finding, Names, TicketFacts
from callcenter.alerts.settings import AlertSettings
from callcenter.percentile import percentile
from callcenter.storage.database import Database
from callcenter.storage.schema import RefGrid, Ticket
from callcenter.synthetic.truth import read_events
from callcenter.tickets.settings import TicketSettings

EVENT_KINDS = ("surge", "cluster", "repeat_problem")
GRACE = 6 * 3600.0


def tickets_in_order(db: Database, batch: int = 5000) -> Iterator[TicketFacts]:
    columns = (
        Ticket.id,
        Ticket.created_at,
        Ticket.caller_number_hash,
        Ticket.grid,
        Ticket.topic,
        Ticket.title,
        Ticket.content,
        Ticket.search_text,
    )
    with db.session() as s:
        rows = s.execute(
            select(*columns)
            .order_by(Ticket.created_at, Ticket.id)
            .execution_options(yield_per=batch)
        )
        for r in rows:
            yield TicketFacts(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7])


def names_of(db: Database, settings: TicketSettings) -> Names:
    with db.session() as s:
        grids = s.execute(select(RefGrid.code, RefGrid.district)).all()
    districts = {code[:6]: district for code, district in grids}
    topics = {t.id: t.name for t in settings.knowledge.topics}
    return Names(districts, topics)


def engine_for(
    settings: AlertSettings, tickets: TicketSettings, names: Names | None = None
) -> AlertEngine:
    cal = tickets.calendar
    return AlertEngine(settings, cal.zone, cal.days, names)


@dataclass
class Replay:
    warnings: dict[str, Finding]  # key -> first detection (detected_at, onset) with last evidence
    seconds: list[float]  # evaluation time of each ticket
    tickets: int
    first_at: float
    last_at: float


def replay(engine: AlertEngine, tickets: Iterator[TicketFacts]) -> Replay:
    found: dict[str, Finding] = {}
    seconds: list[float] = []
    first = last = 0.0
    for t in tickets:
        if not seconds:
            first = t.at
        last = t.at
        started = time.perf_counter()
        out = engine.observe(t)
        seconds.append(time.perf_counter() - started)
        for f in out:
            old = found.get(f.key)
            if old is None:
                found[f.key] = f
            else:  # the event grows: keep when it was first detected
                f.detected_at = old.detected_at
                found[f.key] = f
    return Replay(found, seconds, len(seconds), first, last)


@dataclass
class Score:
    events: int
    detected: int
    by_kind: dict[str, tuple[int, int]]  # kind -> (detected, injected)
    delays: list[float]  # seconds, of detected events
    false_alarms: int
    days: float
    other: dict[str, int] = field(default_factory=dict)  # kinds without truth -> count
    missed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.detected / self.events if self.events else 1.0

    @property
    def false_per_day(self) -> float:
        return self.false_alarms / self.days if self.days else 0.0

    def delay(self, q: float) -> float:
        if not self.delays:
            return float("nan")
        if len(self.delays) == 1:
            return self.delays[0]
        return statistics.quantiles(self.delays, n=100, method="inclusive")[round(q * 100) - 1]


def matches(f: Finding, e: dict[str, Any]) -> bool:
    if set(f.ticket_ids) & set(e["ticket_ids"]):
        return True
    if not e["onset"] <= f.detected_at <= e["end"] + GRACE:
        return False
    if f.district and f.district != e["district_code"]:
        return False
    return not f.topic or f.topic == e["topic"]


def score(found: dict[str, Finding], events: list[dict[str, Any]], days: float) -> Score:
    candidates = [f for f in found.values() if f.kind in EVENT_KINDS]
    matched: set[str] = set()
    delays: list[float] = []
    by_kind: dict[str, list[int]] = {}
    missed: list[dict[str, Any]] = []
    for e in events:
        hits = [f for f in candidates if matches(f, e)]
        counts = by_kind.setdefault(e["kind"], [0, 0])
        counts[1] += 1
        matched.update(f.key for f in hits)
        if hits:
            counts[0] += 1
            delays.append(min(f.detected_at for f in hits) - e["onset"])
        else:
            missed.append({k: e[k] for k in ("kind", "topic", "district", "onset_local")})
    other: dict[str, int] = {}
    for f in found.values():
        if f.kind not in EVENT_KINDS:
            other[f.kind] = other.get(f.kind, 0) + 1
    false = [f for f in candidates if f.key not in matched]
    for f in false:
        other[f"false_{f.kind}"] = other.get(f"false_{f.kind}", 0) + 1
    return Score(
        len(events),
        sum(c[0] for c in by_kind.values()),
        {k: (v[0], v[1]) for k, v in by_kind.items()},
        delays,
        len(false),
        days,
        other,
        missed,
    )


def evaluate(
    db: Database, truth_dir: Path, settings: AlertSettings, tickets: TicketSettings
) -> tuple[Score, Replay]:
    engine = engine_for(settings, tickets, names_of(db, tickets))
    result = replay(engine, tickets_in_order(db))
    days = max(1.0, (result.last_at - result.first_at) / 86400)
    return score(result.warnings, read_events(truth_dir), days), result


def delay_percentile(seconds: list[float], pct: float) -> float:
    """The nearest-rank percentile of the detection delays (seconds; nan when none)."""
    found = percentile(seconds, pct)
    return float("nan") if found is None else found


def table(score: Score, result: Replay) -> str:
    """The metrics as a plain text table."""
    lines = [
        f"{'tickets':<34}{result.tickets}",
        f"{'events injected / detected':<34}{score.events} / {score.detected}"
        f" ({100 * score.rate:.1f}%)",
    ]
    for kind, (hit, total) in sorted(score.by_kind.items()):
        lines.append(f"{'  ' + kind:<34}{hit} / {total}")
    p50, p95 = delay_percentile(result.seconds, 50), delay_percentile(result.seconds, 95)
    lines += [
        f"{'delay from onset p50 / p95 (min)':<34}"
        f"{score.delay(0.5) / 60:.1f} / {score.delay(0.95) / 60:.1f}",
        f"{'false alarms (no event) / day':<34}{score.false_alarms} / {score.false_per_day:.3f}",
        f"{'per-ticket time p50 / p95 (ms)':<34}{1000 * p50:.3f} / {1000 * p95:.3f}",
    ]
    for kind, n in sorted(score.other.items()):
        lines.append(f"{'  ' + kind:<34}{n} ({n / score.days:.2f}/day)")
    return "\n".join(lines)


def main_evaluate(db_url: str, truth_dir: Path, config_dir: Path) -> int:
    """Replay the year in `db_url` and print the metrics against `truth_dir`."""
    from callcenter.alerts.settings import load_alerts
    from callcenter.tickets.settings import load_ticket_settings

    db = Database(db_url)
    try:
        found, result = evaluate(
            db, truth_dir, load_alerts(config_dir), load_ticket_settings(config_dir)
        )
    finally:
        db.close()
    print(table(found, result))
    return 0
