"""Department scorecards (GB/T 44192 7.2.4): per department and period, four criteria judged
on each ticket, their rates (the KPI formulas of `callcenter.reports.kpi`) and a weighted
score (weights in config/scorecard.toml). The per-ticket inputs are returned too, so anyone
can recompute the score from the tickets.

Cohort: the tickets received (created) in the period and dispatched to the department now
(`tickets.department`). Judged "as of" a moment (now, by default): a ticket still within its
limits is not judged yet on that criterion.

Governance-invalid tickets earn no credit: a ticket with an open data-quality issue of a rule
whose severity config/scorecard.toml `[governance] exclude` names (default: error; the rules
and their severities are config/quality.toml's) is counted (`tickets`, `invalid`) but judged on
no criterion, so it neither lifts nor lowers a rate. A department whose every ticket is invalid
(an unknown department code: `department.unknown`) has no score and ranks after every scored
one. Without a governance run there are no issues, and every ticket counts."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    not_,
    or_,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import Subquery

from callcenter.analytics.sql import Period, flag, in_period, state_int, state_text, tune
from callcenter.config_models import Checked, FileModel, Float, load_model
from callcenter.data.quality.config import FILE as QUALITY_FILE
from callcenter.data.quality.config import load_quality
from callcenter.data.quality.rules import SEVERITIES
from callcenter.reports import kpi
from callcenter.storage.database import Database
from callcenter.storage.schema import QualityIssue, Ticket, TicketHistory
from callcenter.tickets.model import CallbackOutcome, Rating
from callcenter.tickets.settings import load_ticket_settings
from callcenter.tomlreader import ConfigError, ConfigErrors

CRITERIA: dict[str, str] = {
    "response": "及时签收率",
    "on_time": "按时办结率",
    "resolution": "解决率",
    "satisfaction": "满意率",
}
FILE = "scorecard.toml"
SATISFIED = Rating.SATISFIED.value
BASICALLY = Rating.BASICALLY_SATISFIED.value


@dataclass(frozen=True)
class ScorecardConfig:
    weights: Mapping[str, float]
    accept_within_hours: float = 24.0
    # quality rule ids whose open issue makes a ticket earn no credit (see the module doc)
    invalid_rules: frozenset[str] = frozenset()


EXCLUDE = ("error",)  # the severities excluded by default


def _non_negative(value: float) -> str | None:
    return "must be 0 or more" if value < 0 else None


def _positive(value: float) -> str | None:
    return "must be above 0" if value <= 0 else None


def _severities(value: tuple[Any, ...]) -> str | None:
    if not all(isinstance(v, str) and v in SEVERITIES for v in value):
        return f"must list severities among {', '.join(SEVERITIES)}"
    return None


Weight = Annotated[Float, Checked(_non_negative, minimum=0)]


class WeightKeys(FileModel):
    """`[weights]`: one relative weight per criterion (CRITERIA), 0 or more."""

    response: Weight = 0.2
    on_time: Weight = 0.3
    resolution: Weight = 0.2
    satisfaction: Weight = 0.3


class ResponseKeys(FileModel):
    accept_within_hours: Annotated[Float, Checked(_positive, exclusiveMinimum=0)] = 24.0


class GovernanceKeys(FileModel):
    # the severities (of config/quality.toml's rules) whose open issue voids a ticket's credit
    exclude: Annotated[tuple[Any, ...], Checked(_severities, items={"enum": list(SEVERITIES)})] = (
        EXCLUDE
    )


class ScorecardFile(FileModel):
    """scorecard.toml: the criteria's weights, the signing limit, what governance voids."""

    weights: WeightKeys = WeightKeys()
    response: ResponseKeys = ResponseKeys()
    governance: GovernanceKeys = GovernanceKeys()


DEFAULT = ScorecardConfig(WeightKeys().model_dump())


def load_scorecard(config_dir: Path) -> ScorecardConfig:
    """config/scorecard.toml; the defaults when the file is absent. ConfigErrors names the
    file and the dotted key of every mistake."""
    path = config_dir / FILE
    if not path.exists():
        return DEFAULT
    found = load_model(ScorecardFile, path)
    weights = found.weights.model_dump()
    if sum(weights.values()) <= 0:
        raise ConfigErrors(
            [ConfigError(str(path), "weights", "at least one weight must be above 0")]
        )
    return ScorecardConfig(
        weights,
        found.response.accept_within_hours,
        invalid_rules(config_dir, found.governance.exclude),
    )


def invalid_rules(config_dir: Path, severities: Iterable[str]) -> frozenset[str]:
    """The ids of config/quality.toml's enabled rules of these severities (none without the
    file: no governance, nothing excluded)."""
    if not (config_dir / QUALITY_FILE).exists():
        return frozenset()
    wanted = set(severities)
    return frozenset(
        rule.id for rule in load_quality(config_dir).enabled if rule.severity in wanted
    )


def weighted_score(rates: Mapping[str, float | None], weights: Mapping[str, float]) -> float | None:
    """100 x the weighted mean of the measurable rates; None when none is measurable (or
    every measurable one weighs 0)."""
    total = sum(weights.get(k, 0.0) for k, v in rates.items() if v is not None)
    if total <= 0:
        return None
    return 100.0 * sum(weights.get(k, 0.0) * v for k, v in rates.items() if v is not None) / total


def _signs(period: Period, department: str | None) -> Subquery:
    h = TicketHistory
    query = (
        select(
            h.ticket_id.label("ticket_id"),
            func.max(case((h.action.in_(("dispatch", "redispatch")), h.at))).label("dispatched"),
            func.max(case((h.action == "accept_handling", h.at))).label("signed"),
        )
        .join(Ticket, Ticket.id == h.ticket_id)
        .where(
            in_period(Ticket.created_at, period),
            Ticket.department.is_not(None),
            h.action.in_(("dispatch", "redispatch", "accept_handling")),
        )
        .group_by(h.ticket_id)
    )
    if department is not None:
        query = query.where(Ticket.department == department)
    return query.subquery("signs")


def ticket_inputs(
    conn: Connection, period: Period, config: ScorecardConfig, as_of: float, department: str | None
) -> Subquery:
    """One row per ticket of the cohort: its times and, per criterion, applicable/met 0/1."""
    s = _signs(period, department)
    limit = config.accept_within_hours * 3600.0
    signed_ok = and_(s.c.signed.is_not(None), s.c.signed >= s.c.dispatched)
    callback = state_text(conn, "callback")
    rating = state_text(conn, "rating")
    invalid = invalid_ticket(config.invalid_rules)
    reached = callback == CallbackOutcome.REACHED.value
    closed = Ticket.closed_at.is_not(None)
    criteria: dict[str, tuple[ColumnElement[bool], ColumnElement[bool]]] = {
        "response": (
            and_(
                s.c.dispatched.is_not(None),
                or_(signed_ok, s.c.dispatched + limit < as_of),
            ),
            and_(signed_ok, s.c.signed - s.c.dispatched <= limit),
        ),
        "on_time": (
            or_(closed, and_(Ticket.deadline.is_not(None), Ticket.deadline < as_of)),
            and_(closed, or_(Ticket.deadline.is_(None), Ticket.closed_at <= Ticket.deadline)),
        ),
        "resolution": (reached, and_(reached, state_int(conn, "reopens") == 0)),
        "satisfaction": (
            rating.is_not(None),
            rating.in_((Rating.SATISFIED.value, Rating.BASICALLY_SATISFIED.value)),
        ),
    }
    flags: list[ColumnElement[Any]] = []
    for name, (applicable, met) in criteria.items():
        judged = and_(not_(invalid), applicable)
        flags.append(flag(judged).label(f"{name}_judged"))
        flags.append(flag(and_(judged, met)).label(f"{name}_met"))
    flags.append(flag(invalid).label("invalid"))
    query = (
        select(
            Ticket.id.label("ticket_id"),
            Ticket.number.label("number"),
            Ticket.department.label("department"),
            Ticket.created_at.label("created_at"),
            Ticket.deadline.label("deadline"),
            Ticket.closed_at.label("closed_at"),
            s.c.dispatched.label("dispatched_at"),
            s.c.signed.label("signed_at"),
            callback.label("callback"),
            rating.label("rating"),
            *flags,
        )
        .select_from(Ticket)
        .outerjoin(s, s.c.ticket_id == Ticket.id)
        .where(in_period(Ticket.created_at, period), Ticket.department.is_not(None))
    )
    if department is not None:
        query = query.where(Ticket.department == department)
    return query.subquery("inputs")


def invalid_ticket(rules: frozenset[str]) -> ColumnElement[bool]:
    """The ticket has an open governance issue of one of these rules."""
    if not rules:
        return false()
    return exists().where(
        QualityIssue.tbl == "tickets",
        QualityIssue.record_id == cast(Ticket.id, String),
        QualityIssue.open == 1,
        QualityIssue.rule.in_(sorted(rules)),
    )


def rates_of(counts: Mapping[str, int]) -> dict[str, float | None]:
    """The four rates from the judged/met counts (and the satisfied/basically split)."""
    return {
        "response": kpi.ratio(counts["response_met"], counts["response_judged"]),
        "on_time": kpi.on_time_completion_rate(counts["on_time_met"], counts["on_time_judged"]),
        "resolution": kpi.resolution_rate(counts["resolution_met"], counts["resolution_judged"]),
        "satisfaction": kpi.satisfaction_rate(
            counts["satisfied"], counts["basically_satisfied"], counts["satisfaction_judged"]
        ),
    }


COUNT_NAMES = [f"{c}_{k}" for c in CRITERIA for k in ("judged", "met")]


def scorecards(
    conn: Connection,
    period: Period,
    config: ScorecardConfig,
    as_of: float,
    department: str | None = None,
) -> list[dict[str, Any]]:
    """Per department (or just one): tickets, judged/met counts, rates and score, best
    score first (departments with no score last)."""
    base = ticket_inputs(conn, period, config, as_of, department)
    sums = [func.sum(base.c[n]) for n in COUNT_NAMES]
    query = select(
        base.c.department,
        func.count(),
        *sums,
        func.sum(flag(and_(base.c.satisfaction_judged == 1, base.c.rating == SATISFIED))),
        func.sum(flag(and_(base.c.satisfaction_judged == 1, base.c.rating == BASICALLY))),
        func.sum(base.c.invalid),
    ).group_by(base.c.department)
    out: list[dict[str, Any]] = []
    for row in conn.execute(query):
        counts = {
            n: int(v or 0) for n, v in zip(COUNT_NAMES, row[2 : 2 + len(COUNT_NAMES)], strict=True)
        }
        counts["satisfied"] = int(row[-3] or 0)
        counts["basically_satisfied"] = int(row[-2] or 0)
        rates = rates_of(counts)
        out.append(
            {
                "department": str(row[0]),
                "tickets": int(row[1]),
                "invalid": int(row[-1] or 0),  # counted, judged on nothing
                "counts": counts,
                "rates": rates,
                "score": weighted_score(rates, config.weights),
            }
        )
    out.sort(key=lambda r: (r["score"] is None, -(r["score"] or 0.0), r["department"]))
    return out


def department_tickets(
    conn: Connection,
    period: Period,
    config: ScorecardConfig,
    as_of: float,
    department: str,
    page: int = 1,
    per_page: int = 500,
) -> tuple[int, list[dict[str, Any]]]:
    """The per-ticket inputs of one department's scorecard: the ticket number, its times and
    per criterion None (not judged), True (met) or False (not met)."""
    base = ticket_inputs(conn, period, config, as_of, department)
    total = int(conn.scalar(select(func.count()).select_from(base)) or 0)
    rows = conn.execute(
        select(base)
        .order_by(base.c.created_at, base.c.ticket_id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).mappings()
    found = []
    for r in rows:
        item: dict[str, Any] = {
            k: r[k]
            for k in ("number", "created_at", "deadline", "closed_at", "dispatched_at",
                      "signed_at", "callback", "rating")
        }  # fmt: skip
        item["criteria"] = {
            c: (bool(r[f"{c}_met"]) if r[f"{c}_judged"] else None) for c in CRITERIA
        }
        item["invalid"] = bool(r["invalid"])
        found.append(item)
    return total, found


def main_scorecard(
    config_dir: Path, db_url: str, period_from: date, period_to: date, out: Path
) -> int:
    """Write the scorecards of every department for the local days period_from..period_to
    (inclusive) as JSON to `out`, with each department's per-ticket inputs. Exit code."""
    try:
        config = load_scorecard(config_dir)
        zone = load_ticket_settings(config_dir).calendar.zone
    except ConfigError as exc:
        print(f"配置错误：{exc}", file=sys.stderr)
        return 2
    if period_to < period_from:
        print("参数错误：结束日期早于开始日期", file=sys.stderr)
        return 2
    start = datetime.combine(period_from, datetime.min.time(), zone).timestamp()
    end = datetime.combine(period_to + timedelta(days=1), datetime.min.time(), zone).timestamp()
    period = Period(start, end)
    as_of = time.time()
    db = Database(db_url)
    try:
        with db.engine.connect() as conn:
            tune(conn)
            cards = scorecards(conn, period, config, as_of)
            for card in cards:
                _, card["tickets_detail"] = department_tickets(
                    conn, period, config, as_of, card["department"], 1, 10**9
                )
    finally:
        db.close()
    report = {
        "period": {"from": period_from.isoformat(), "to": period_to.isoformat()},
        "as_of": as_of,
        "weights": dict(config.weights),
        "accept_within_hours": config.accept_within_hours,
        "criteria": CRITERIA,
        "departments": cards,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"已生成 {len(cards)} 个承办单位的考评结果：{out}")
    return 0
