"""A hotline report for any period (GB/T 44192 7.2.1.1): the KPIs, their comparison with the
previous period of the same length and the same period last year, breakdowns by dimension and
the intake series; stored in `report_runs` (figures as JSON, the files written)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from callcenter.reports import kpi
from callcenter.reports.query import (
    DIMENSIONS,
    STATUS_LABELS,
    CallCounts,
    FlowCounts,
    MissedCounts,
    Period,
    Scope,
    TicketCounts,
    call_totals,
    flow_totals,
    intake_series,
    missed_totals,
    ticket_breakdowns,
    ticket_totals,
)
from callcenter.storage.database import Database
from callcenter.storage.schema import RefDepartment, ReportRun
from callcenter.tickets.settings import load_ticket_settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
KINDS: dict[str, str] = {"daily": "日报", "weekly": "周报", "monthly": "月报", "special": "专报"}
CHANNEL_LABELS = {
    "phone": "电话",
    "web": "网站",
    "app": "APP",
    "miniprogram": "小程序",
    "wechat": "微信",
    "sms": "短信",
}

# KPI key -> (Chinese label, kind): kind is "count", "rate" or "seconds".
KPI_DEFS: dict[str, tuple[str, str]] = {
    "received": ("受理量", "count"),
    "offered_calls": ("呼入量", "count"),
    "answered_calls": ("接通量", "count"),
    "connection_rate": ("接通率", "rate"),
    "answered_within_rate": ("15秒接通率", "rate"),
    "abandon_rate": ("呼损率", "rate"),
    "average_wait": ("平均等待时长", "seconds"),
    "average_talk": ("平均通话时长", "seconds"),
    "missed_callers": ("漏接来电数", "count"),
    "missed_callback_rate": ("漏接回拨率", "rate"),
    "missed_callback_p50": ("回拨时长P50", "seconds"),
    "missed_callback_p90": ("回拨时长P90", "seconds"),
    "closed": ("办结量", "count"),
    "on_time_completion_rate": ("按时办结率", "rate"),
    "callback_coverage": ("回访率", "rate"),
    "resolution_rate": ("解决率", "rate"),
    "satisfaction_rate": ("满意率", "rate"),
    "returns": ("退单次数", "count"),
    "return_rate": ("退单率", "rate"),
    "redispatches": ("改派次数", "count"),
    "redispatch_rate": ("改派率", "rate"),
}


def kpis_of(
    calls: CallCounts | None,
    tickets: TicketCounts,
    flows: FlowCounts,
    missed: MissedCounts | None = None,
) -> dict[str, float | None]:
    """The KPI values from the period's counts (calls or missed None: not in the caller's
    scope)."""
    c = calls or CallCounts()
    known = calls is not None
    m = missed or MissedCounts()
    return {
        "received": tickets.received,
        "offered_calls": c.offered if known else None,
        "answered_calls": c.answered if known else None,
        "connection_rate": kpi.connection_rate(c.answered, c.offered),
        "answered_within_rate": kpi.answered_within_rate(c.answered_within, c.offered),
        "abandon_rate": kpi.abandon_rate(c.abandoned, c.offered),
        "average_wait": kpi.average_wait(c.wait_seconds, c.answered),
        "average_talk": kpi.average_talk(c.talk_seconds, c.answered),
        "missed_callers": m.missed if missed is not None else None,
        "missed_callback_rate": kpi.missed_callback_rate(m.called_back, m.missed),
        "missed_callback_p50": m.p50,
        "missed_callback_p90": m.p90,
        "closed": tickets.closed,
        "on_time_completion_rate": kpi.on_time_completion_rate(
            tickets.closed_on_time, tickets.closed
        ),
        "callback_coverage": kpi.callback_coverage(tickets.revisited, tickets.closed),
        "resolution_rate": kpi.resolution_rate(tickets.resolved, tickets.revisited),
        "satisfaction_rate": kpi.satisfaction_rate(
            tickets.satisfied, tickets.basically_satisfied, tickets.evaluated
        ),
        "returns": flows.returns,
        "return_rate": kpi.return_rate(flows.returned, flows.dispatched),
        "redispatches": flows.redispatches,
        "redispatch_rate": kpi.redispatch_rate(flows.redispatched, flows.dispatched),
    }


def format_value(key: str, value: float | None) -> str:
    kind = KPI_DEFS[key][1]
    if kind == "rate":
        return kpi.format_rate(value)
    if kind == "seconds":
        return kpi.format_seconds(value)
    return kpi.format_count(value)


def format_change(key: str, change: float | None) -> str:
    """Rates change in percentage points, counts and times relatively."""
    if change is None:
        return kpi.DASH
    sign = "+" if change > 0 else ""
    if KPI_DEFS[key][1] == "rate":
        return f"{sign}{change * 100:.1f} 个百分点"
    return f"{sign}{change * 100:.1f}%"


@dataclass(frozen=True)
class KpiLine:
    key: str
    label: str
    value: float | None
    previous: float | None  # the previous period of the same length
    last_year: float | None  # the same period a year before
    change_previous: float | None  # rates: difference; counts and times: relative change
    change_last_year: float | None


@dataclass(frozen=True)
class BreakdownRow:
    value: str  # the stored value
    label: str  # how it is shown
    received: int
    closed: int
    on_time_completion_rate: float | None
    satisfaction_rate: float | None
    returned: int
    open: int


@dataclass
class Report:
    kind: str
    title: str
    period_from: datetime
    period_to: datetime
    actor: str
    generated_at: datetime
    kpis: list[KpiLine]
    breakdowns: dict[str, list[BreakdownRow]]
    series: list[tuple[float, int]]  # (bucket start epoch, tickets received)
    bucket: float  # seconds: 3600 or 86400
    department: str | None = None
    id: int | None = None
    files: list[str] = field(default_factory=list)

    def kpi(self, key: str) -> KpiLine:
        return next(line for line in self.kpis if line.key == key)

    def figures(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "title": self.title,
            "period_from": self.period_from.isoformat(),
            "period_to": self.period_to.isoformat(),
            "department": self.department,
            "kpis": {
                line.key: {
                    "label": line.label,
                    "value": line.value,
                    "previous": line.previous,
                    "last_year": line.last_year,
                    "change_previous": line.change_previous,
                    "change_last_year": line.change_last_year,
                }
                for line in self.kpis
            },
            "breakdowns": {
                dim: [
                    {
                        "value": r.value,
                        "label": r.label,
                        "received": r.received,
                        "closed": r.closed,
                        "on_time_completion_rate": r.on_time_completion_rate,
                        "satisfaction_rate": r.satisfaction_rate,
                        "returned": r.returned,
                        "open": r.open,
                    }
                    for r in rows
                ]
                for dim, rows in self.breakdowns.items()
            },
            "series": {"bucket": self.bucket, "points": [[t, n] for t, n in self.series]},
        }


def previous_period(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The period of the same length just before."""
    return start - (end - start), start


def _year_before(at: datetime) -> datetime:
    try:
        return at.replace(year=at.year - 1)
    except ValueError:  # 29 February
        return at.replace(year=at.year - 1, day=28)


def last_year_period(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The same dates (local time) a year before."""
    return _year_before(start), _year_before(end)


def period_for(kind: str, day: date, zone: tzinfo = SHANGHAI) -> tuple[datetime, datetime]:
    """daily: that day; weekly: the Monday-to-Sunday week holding it; monthly: its month."""
    if kind == "daily":
        first, last = day, day + timedelta(days=1)
    elif kind == "weekly":
        first = day - timedelta(days=day.weekday())
        last = first + timedelta(days=7)
    elif kind == "monthly":
        first = day.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1)
    else:
        raise ValueError(f"no fixed period for a {kind} report")
    return (
        datetime(first.year, first.month, first.day, tzinfo=zone),
        datetime(last.year, last.month, last.day, tzinfo=zone),
    )


def dates_period(first: date, last: date, zone: tzinfo = SHANGHAI) -> tuple[datetime, datetime]:
    """From the start of `first` to the end of `last` (both days included), local time."""
    if last < first:
        raise ValueError("the last day must not be before the first")
    end = last + timedelta(days=1)
    return (
        datetime(first.year, first.month, first.day, tzinfo=zone),
        datetime(end.year, end.month, end.day, tzinfo=zone),
    )


def default_title(kind: str, start: datetime, end: datetime) -> str:
    last = end - timedelta(seconds=1)
    if kind == "daily":
        span = start.strftime("%Y年%m月%d日")
    elif kind == "monthly":
        span = start.strftime("%Y年%m月")
    else:
        span = f"{start.strftime('%Y年%m月%d日')}至{last.strftime('%Y年%m月%d日')}"
    return f"12345热线{KINDS.get(kind, '报告')}（{span}）"


def _period(start: datetime, end: datetime) -> Period:
    return Period(start.timestamp(), end.timestamp())


def topic_names(config_dir: Path) -> dict[str, str]:
    """Problem classification labels: knowledge.toml topic id -> name (raises ConfigError)."""
    knowledge = load_ticket_settings(config_dir).knowledge
    return {t.id: t.name for t in knowledge.topics}


def _labels(db: Database, topics: Mapping[str, str]) -> dict[str, dict[str, str]]:
    with db.session() as s:
        departments = {
            code: name for code, name in s.execute(select(RefDepartment.code, RefDepartment.name))
        }
    return {
        "status": dict(STATUS_LABELS),
        "channel": CHANNEL_LABELS,
        "department": departments,
        "topic": dict(topics),
    }


OUTSIDE = "（非代码值）"


def _label(labels: dict[str, dict[str, str]], dim: str, value: str) -> str:
    """How a stored value is shown: its dictionary label; a value outside a dimension's
    dictionary (a raw channel "电话" beside the code "phone", an unknown department code) is
    marked, so it never reads like the valid row it resembles. Such records still count in
    the volumes (the request did arrive), in a row of their own."""
    if value.strip() == "":
        return "（未填）"
    known = labels.get(dim, {})
    if known and value not in known:
        return value.strip() + OUTSIDE
    return known.get(value, value).strip()


def build_report(
    db: Database,
    kind: str,
    period_from: datetime,
    period_to: datetime,
    dims: Sequence[str],
    actor: str,
    *,
    title: str = "",
    department: str | None = None,
    store: bool = True,
    topics: Mapping[str, str] | None = None,
    run_id: int | None = None,
) -> Report:
    """Compute the report for [period_from, period_to) (aware datetimes; naive ones are taken
    as China time) with breakdowns by `dims` (keys of DIMENSIONS); `department` limits it to
    that department's tickets (and leaves out the calls); `topics` names the problem
    classifications (see `topic_names`). Stored in report_runs when `store`: as a new row, or
    into the row `run_id` (a special report that was requested: its params are kept)."""
    if kind not in KINDS:
        raise ValueError(f"unknown report kind {kind!r} (one of {', '.join(KINDS)})")
    start = period_from if period_from.tzinfo else period_from.replace(tzinfo=SHANGHAI)
    end = period_to if period_to.tzinfo else period_to.replace(tzinfo=SHANGHAI)
    if end <= start:
        raise ValueError("the period must end after it starts")
    scope = Scope(department)
    bucket = 3600.0 if end - start <= timedelta(days=2) else 86400.0
    offset = (start.utcoffset() or timedelta()).total_seconds()
    periods = [(start, end), previous_period(start, end), last_year_period(start, end)]
    current = _period(start, end)
    with db.engine.connect() as conn:
        totals, raw = ticket_breakdowns(conn, current, list(dims), scope)
        values: list[dict[str, float | None]] = []
        for i, (a, b) in enumerate(periods):
            p = _period(a, b)
            calls = call_totals(conn, p) if department is None else None
            missed = missed_totals(conn, p) if department is None else None
            tickets = totals if i == 0 else ticket_totals(conn, p, scope)
            values.append(kpis_of(calls, tickets, flow_totals(conn, p, scope), missed))
        series = intake_series(conn, current, bucket, offset, scope)
    labels = _labels(db, topics or {})
    lines: list[KpiLine] = []
    for key, (label, kind_of) in KPI_DEFS.items():
        now, before, year = values[0][key], values[1][key], values[2][key]
        change = kpi.delta if kind_of == "rate" else kpi.relative_change
        lines.append(KpiLine(key, label, now, before, year, change(now, before), change(now, year)))
    breakdowns = {
        dim: [
            BreakdownRow(
                value=value,
                label=_label(labels, dim, value),
                received=c.received,
                closed=c.closed,
                on_time_completion_rate=kpi.on_time_completion_rate(c.closed_on_time, c.closed),
                satisfaction_rate=kpi.satisfaction_rate(
                    c.satisfied, c.basically_satisfied, c.evaluated
                ),
                returned=c.returned,
                open=c.open,
            )
            for value, c in rows
        ]
        for dim, rows in raw.items()
    }
    report = Report(
        kind=kind,
        title=title or default_title(kind, start, end),
        period_from=start,
        period_to=end,
        actor=actor,
        generated_at=datetime.now(UTC).astimezone(start.tzinfo),
        kpis=lines,
        breakdowns=breakdowns,
        series=series,
        bucket=bucket,
        department=department,
    )
    if store:
        report.id = _store(db, report, run_id)
    return report


def _store(db: Database, report: Report, run_id: int | None) -> int:
    now = time.time()
    params = {"dims": list(report.breakdowns), "department": report.department}
    with db.session() as s:
        row = s.get(ReportRun, run_id) if run_id is not None else None
        if run_id is not None and row is None:
            raise LookupError(f"no report run {run_id}")
        if row is None:
            row = ReportRun(kind=report.kind, actor=report.actor, started_at=now, files="[]")
            s.add(row)
        else:
            params = {**json.loads(row.params or "{}"), **params}
        row.title = report.title
        row.period_from = report.period_from.timestamp()
        row.period_to = report.period_to.timestamp()
        row.params = json.dumps(params, ensure_ascii=False)
        row.figures = json.dumps(report.figures(), ensure_ascii=False)
        row.state = "done"
        row.finished_at = now
        row.error = ""
        s.commit()
        return row.id


def set_files(db: Database, run_id: int, files: Sequence[str]) -> None:
    with db.session() as s:
        row = s.get(ReportRun, run_id)
        if row is None:
            raise LookupError(f"no report run {run_id}")
        row.files = json.dumps(list(files), ensure_ascii=False)
        row.finished_at = time.time()
        s.commit()


ALL_DIMENSIONS: tuple[str, ...] = tuple(DIMENSIONS)
