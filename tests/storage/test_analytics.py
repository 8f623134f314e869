"""Analytics over a small synthetic year, on SQLite and PostgreSQL: stage durations, bounced
tickets, scorecards (and their weights) and hot-spot rankings match an independent Python
computation over the same rows; the API keeps each department to its own tickets; the
integration report counts what the rows hold."""

from __future__ import annotations

import json
import shutil
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from callcenter.analytics import hotspots, scorecard, service_quality
from callcenter.analytics.integration import integration_report
from callcenter.analytics.scorecard import main_scorecard
from callcenter.analytics.sql import Period
from callcenter.api import analytics as api
from callcenter.api.auth import add_token, auth_middleware
from callcenter.api.errors import errors_middleware
from callcenter.api.keys import CONFIG_DIR, SETTINGS, TICKET_DB
from callcenter.config import load_config
from callcenter.data.catalog import load_annotations
from callcenter.data.crypto import FILE_ENV, load_cipher, write_key_file
from callcenter.data.protection import Action, Redactor, load_policy
from callcenter.data.quality.config import load_quality
from callcenter.data.quality.runner import run
from callcenter.percentile import percentile
from callcenter.storage.database import Database
from callcenter.storage.schema import (
    CallRecord,
    DataAccess,
    QualityIssue,
    RefGrid,
    Ticket,
    TicketHistory,
)
from callcenter.synthetic.command import main_synth
from callcenter.tickets.settings import load_ticket_settings

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"
ZONE = load_ticket_settings(CONFIG).calendar.zone
Client = TestClient[Any, Any]


def local(day: date) -> float:
    return datetime.combine(day, datetime.min.time(), ZONE).timestamp()


YEAR = Period(local(date(2026, 1, 1)), local(date(2027, 1, 1)))
SPRING = Period(local(date(2026, 4, 1)), local(date(2026, 7, 1)))
AS_OF = local(date(2026, 10, 1))


@dataclass
class Row:
    id: int
    number: str
    department: str | None
    topic: str
    grid: str
    created_at: float
    deadline: float | None
    closed_at: float | None
    state: dict[str, Any]
    history: list[tuple[str, float, dict[str, str]]] = field(default_factory=list)


@pytest.fixture
def year(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    keys = tmp_path / "keys.toml"
    write_key_file(keys)
    monkeypatch.setenv(FILE_ENV, str(keys))
    truth = tmp_path / "truth"
    assert main_synth(database.url, 1000, 11, date(2026, 1, 1), truth, CONFIG, 0.02) == 0
    return database


def rows_of(db: Database) -> dict[int, Row]:
    out: dict[int, Row] = {}
    with db.session() as s:
        for t in s.scalars(select(Ticket)):
            out[t.id] = Row(
                t.id, t.number, t.department, t.topic, t.grid, t.created_at, t.deadline,
                t.closed_at, json.loads(t.state),
            )  # fmt: skip
        for h in s.scalars(
            select(TicketHistory).order_by(TicketHistory.ticket_id, TicketHistory.seq)
        ):
            out[h.ticket_id].history.append((h.action, h.at, json.loads(h.details)))
    return out


def in_(at: float | None, p: Period) -> bool:
    return at is not None and p.start <= at < p.end


# --- independent computations -----------------------------------------------------------------


def py_stages(
    rows: dict[int, Row], p: Period, dim: str | None
) -> dict[tuple[str, str], list[float]]:
    found: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in rows.values():
        if not in_(r.created_at, p):
            continue

        def times(*actions: str, r: Row = r) -> list[float]:
            return [at for a, at, _ in r.history if a in actions]

        def first(*actions: str) -> float | None:
            return min(times(*actions), default=None)

        def last(*actions: str) -> float | None:
            return max(times(*actions), default=None)

        m = {
            "accepted": first("accept"), "dispatched": first("dispatch"),
            "last_dispatch": last("dispatch", "redispatch"), "signed": last("accept_handling"),
            "replied": first("reply"), "closed": first("close"), "revisited": first("revisit"),
        }  # fmt: skip
        key = "" if dim is None else (getattr(r, dim) or "")
        for code, _, start, end in service_quality.STAGES:
            a, b = m[start], m[end]
            if a is not None and b is not None and b >= a:
                found[(code, key)].append(b - a)
    return found


def py_bounced(rows: dict[int, Row], p: Period) -> dict[int, list[tuple[str, str]]]:
    out = {}
    for r in rows.values():
        if not in_(r.created_at, p):
            continue
        route = [
            (a, d.get("department", ""))
            for a, _, d in r.history
            if a in service_quality.FLOW_ACTIONS
        ]
        returns = sum(1 for a, _ in route if a == "return")
        departments = {d for a, d in route if a != "return"}
        if returns >= 2 or len(departments) >= 3:
            out[r.id] = route
    return out


def py_criteria(r: Row, as_of: float, hours: float) -> dict[str, bool | None]:
    dispatched = max(
        (at for a, at, _ in r.history if a in ("dispatch", "redispatch")), default=None
    )
    signed = max((at for a, at, _ in r.history if a == "accept_handling"), default=None)
    out: dict[str, bool | None] = {}
    ok = signed is not None and dispatched is not None and signed >= dispatched
    if dispatched is None or not (ok or dispatched + hours * 3600 < as_of):
        out["response"] = None
    else:
        out["response"] = ok and signed is not None and signed - dispatched <= hours * 3600
    if r.closed_at is not None:
        out["on_time"] = r.deadline is None or r.closed_at <= r.deadline
    elif r.deadline is not None and r.deadline < as_of:
        out["on_time"] = False
    else:
        out["on_time"] = None
    reached = r.state.get("callback") == "reached"
    out["resolution"] = (r.state.get("reopens", 0) == 0) if reached else None
    rating = r.state.get("rating")
    out["satisfaction"] = rating in ("满意", "基本满意") if rating else None
    return out


def py_scores(
    rows: dict[int, Row],
    p: Period,
    as_of: float,
    config: scorecard.ScorecardConfig,
    invalid: frozenset[int] = frozenset(),
) -> dict[str, tuple[dict[str, float | None], float | None]]:
    per: dict[str, list[dict[str, bool | None]]] = defaultdict(list)
    for r in rows.values():
        if in_(r.created_at, p) and r.department is not None:
            if r.id in invalid:  # counted, judged on nothing
                per[r.department].append(dict.fromkeys(scorecard.CRITERIA))
            else:
                per[r.department].append(py_criteria(r, as_of, config.accept_within_hours))
    out = {}
    for dept, items in per.items():
        rates: dict[str, float | None] = {}
        for c in scorecard.CRITERIA:
            judged = [i[c] for i in items if i[c] is not None]
            rates[c] = sum(1 for x in judged if x) / len(judged) if judged else None
        usable = {c: v for c, v in rates.items() if v is not None and config.weights[c] > 0}
        total = sum(config.weights[c] for c in usable)
        score = (
            100 * sum(config.weights[c] * v for c, v in usable.items()) / total if total else None
        )
        out[dept] = (rates, score)
    return out


def py_ranking(rows: dict[int, Row], grids: dict[str, tuple[str, str]], p: Period, dim: str,
               department: str | None = None) -> list[tuple[str, int, int]]:  # fmt: skip
    def key(r: Row) -> str:
        if dim == "topic":
            return r.topic
        district, street = grids.get(r.grid, ("", ""))
        return district if dim == "district" else f"{district}/{street}"

    now, before = Counter[str](), Counter[str]()
    for r in rows.values():
        if department is not None and r.department != department:
            continue
        if dim != "topic" and r.grid not in grids:
            continue  # no known place: not ranked
        if in_(r.created_at, p):
            now[key(r)] += 1
        elif in_(r.created_at, p.previous):
            before[key(r)] += 1
    ranked = sorted(now.items(), key=lambda kv: (-kv[1], kv[0]))
    return [(k, n, before[k]) for k, n in ranked]


def grids_of(db: Database) -> dict[str, tuple[str, str]]:
    with db.session() as s:
        return {g.code: (g.district, g.street) for g in s.scalars(select(RefGrid))}


# --- the tests ----------------------------------------------------------------------------------


def test_figures_match_an_independent_computation(year: Database, tmp_path: Path) -> None:
    rows = rows_of(year)
    with year.engine.connect() as conn:
        for dim in (None, "department", "topic"):
            expected = py_stages(rows, YEAR, dim)
            got = service_quality.stage_durations(conn, YEAR, dim)
            assert {(s.stage, s.key) for s in got} == set(expected)
            for s in got:
                values = expected[(s.stage, s.key)]
                assert s.tickets == len(values)
                assert s.p50 == pytest.approx(percentile(values, 50))
                assert s.p90 == pytest.approx(percentile(values, 90))
                assert s.mean == pytest.approx(sum(values) / len(values))
        assert {s.stage for s in service_quality.stage_durations(conn, YEAR)} == {
            code for code, _, _, _ in service_quality.STAGES
        }

        bounced = py_bounced(rows, YEAR)
        assert len(bounced) >= 5  # the generator bounces ~2 % of tickets 2-3 times
        found = service_quality.bounced(conn, YEAR, per_page=1000)
        assert found["total"] == len(bounced)
        assert {t["ticket_id"]: [(x["action"], x["department"]) for x in t["route"]]
                for t in found["tickets"]} == bounced  # fmt: skip

        rated: Counter[str] = Counter()
        unhappy: Counter[str] = Counter()
        late: Counter[str] = Counter()
        for r in rows.values():
            if in_(r.created_at, YEAR):
                if r.state.get("rating"):
                    rated[r.topic] += 1
                    unhappy[r.topic] += r.state["rating"] == "不满意"
                if r.closed_at is not None and r.deadline is not None and r.closed_at > r.deadline:
                    late[r.department or ""] += 1
        low = service_quality.low_satisfaction(conn, YEAR, "topic", min_count=5, limit=1000)
        assert {(x["key"], x["evaluated"], x["unsatisfied"]) for x in low} == {
            (k, n, unhappy[k]) for k, n in rated.items() if n >= 5
        }
        assert [x["share"] for x in low] == sorted((x["share"] for x in low), reverse=True)
        over = service_quality.overdue(conn, YEAR, AS_OF)
        assert over["closed_late"] == sum(late.values())
        assert {d["department"]: d["closed_late"] for d in over["departments"]} == {
            k: v for k, v in late.items() if v
        } | {d["department"]: 0 for d in over["departments"] if not late[d["department"]]}

        config = scorecard.load_scorecard(CONFIG)
        expected_scores = py_scores(rows, YEAR, AS_OF, config)
        cards = {c["department"]: c for c in scorecard.scorecards(conn, YEAR, config, AS_OF)}
        assert set(cards) == set(expected_scores)
        for dept, (rates, score) in expected_scores.items():
            assert cards[dept]["rates"] == pytest.approx(rates)
            assert cards[dept]["score"] == pytest.approx(score)
        busiest = max(cards.values(), key=lambda c: c["tickets"])["department"]
        total, items = scorecard.department_tickets(conn, YEAR, config, AS_OF, busiest, 1, 10_000)
        assert total == cards[busiest]["tickets"] == len(items)
        by_number = {r.number: r for r in rows.values()}
        for item in items:
            r = by_number[item["number"]]
            assert r.department == busiest
            assert item["criteria"] == py_criteria(r, AS_OF, config.accept_within_hours)

        # the weights change the score as configured
        (tmp_path / "scorecard.toml").write_text(
            "[weights]\nresponse = 0\non_time = 0\nresolution = 0\nsatisfaction = 1\n",
            encoding="utf-8",
        )
        only_satisfaction = scorecard.load_scorecard(tmp_path)
        reweighted = {
            c["department"]: c for c in scorecard.scorecards(conn, YEAR, only_satisfaction, AS_OF)
        }
        for card in reweighted.values():
            sat = card["rates"]["satisfaction"]
            assert card["score"] == (pytest.approx(100 * sat) if sat is not None else None)
        assert any(reweighted[d]["score"] != cards[d]["score"] for d in cards)

        grids = grids_of(year)
        for dim in hotspots.DIMENSIONS:
            got_rank = hotspots.ranking(conn, dim, SPRING, limit=1000)
            assert [(r["key"], r["tickets"], r["previous"]) for r in got_rank] == py_ranking(
                rows, grids, SPRING, dim
            )
        water = hotspots.ranking(conn, "topic", SPRING, hotspots.Scope("water"), limit=1000)
        assert [(r["key"], r["tickets"], r["previous"]) for r in water] == py_ranking(
            rows, grids, SPRING, "topic", "water"
        )
        top = hotspots.ranking(conn, "district", SPRING, limit=3)
        series = hotspots.series(
            conn, "district", [r["key"] for r in top], SPRING, "week", 8 * 3600.0
        )
        for point in top:
            assert sum(n for _, n in series[point["key"]]) == point["tickets"]
        total, listed = hotspots.tickets(conn, "district", top[0]["key"], SPRING, per_page=1000)
        assert total == top[0]["tickets"] == len(listed)
        assert {t["district"] for t in listed} == {top[0]["key"]}


def test_main_scorecard_output_recomputes_from_its_tickets(year: Database, tmp_path: Path) -> None:
    out = tmp_path / "out" / "scorecard.json"
    assert main_scorecard(CONFIG, year.url, date(2026, 1, 1), date(2026, 12, 31), out) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    weights = report["weights"]
    assert weights == dict(scorecard.load_scorecard(CONFIG).weights)
    assert sum(d["tickets"] for d in report["departments"]) == sum(
        1 for r in rows_of(year).values() if r.department is not None
    )
    for card in report["departments"]:
        items = card["tickets_detail"]
        assert len(items) == card["tickets"]
        rates: dict[str, float | None] = {}
        for c in scorecard.CRITERIA:
            judged = [i["criteria"][c] for i in items if i["criteria"][c] is not None]
            rates[c] = sum(1 for x in judged if x) / len(judged) if judged else None
        usable = {c: v for c, v in rates.items() if v is not None and weights[c] > 0}
        total = sum(weights[c] for c in usable)
        score = 100 * sum(weights[c] * v for c, v in usable.items()) / total if total else None
        assert card["score"] == (pytest.approx(score) if score is not None else None)
    assert main_scorecard(CONFIG, year.url, date(2026, 2, 1), date(2026, 1, 1), out) == 2


@pytest.fixture
async def client(
    year: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Client, dict[str, str]]]:
    path = tmp_path / "tokens.toml"
    tokens = {
        "supervisor": add_token(path, "班长", "supervisor"),
        "agent": add_token(path, "1001", "agent"),
        "water": add_token(path, "水务局", "department", "water"),
        "housing": add_token(path, "住建委", "department", "housing"),
        "nobody": add_token(path, "无单位", "department", ""),
    }
    monkeypatch.setenv("CALLCENTER_TOKENS_FILE", str(path))
    monkeypatch.delenv("CALLCENTER_API_TOKEN", raising=False)
    app = web.Application(middlewares=[errors_middleware, auth_middleware])
    app[TICKET_DB] = year
    app[SETTINGS] = load_ticket_settings(CONFIG)
    shutil.copytree(CONFIG, tmp_path / "config")
    app[CONFIG_DIR] = tmp_path / "config"
    app.add_routes(api.routes())
    async with TestClient(TestServer(app)) as c:
        yield c, tokens


async def get(c: Client, token: str, path: str) -> tuple[int, Any]:
    resp = await c.get(path, headers={"Authorization": f"Bearer {token}"})
    return resp.status, await resp.json()


async def test_departments_see_only_their_own_tickets(
    client: tuple[Client, dict[str, str]], year: Database
) -> None:
    c, tok = client
    rows = rows_of(year)
    dept_of = {r.number: r.department for r in rows.values()}
    id_dept = {r.id: r.department for r in rows.values()}
    period = "from=2026-01-01&to=2026-12-31"

    status, body = await get(c, tok["water"], "/api/department/overview?department=housing")
    assert status == 200 and body["department"] == "water"
    listed = [*body["overdue"], *body["due_soon"], *body["dissatisfied"]]
    assert all(id_dept[t["id"]] == "water" for t in listed)
    open_water = sum(1 for r in rows.values() if r.department == "water" and r.closed_at is None)
    assert 0 < body["open"]["total"] <= open_water + 5  # a reopened ticket is open again

    status, body = await get(c, tok["water"], f"/api/scorecard?{period}&department=housing")
    assert status == 200 and [d["department"] for d in body["departments"]] == ["water"]
    status, body = await get(c, tok["water"], f"/api/scorecard/tickets?{period}&department=housing")
    assert status == 200 and body["department"] == "water" and body["total"] > 0
    assert {dept_of[t["number"]] for t in body["tickets"]} == {"water"}
    status, body = await get(c, tok["supervisor"], f"/api/scorecard?{period}")
    assert len(body["departments"]) > 5

    status, body = await get(c, tok["water"], f"/api/hotspots?{period}&dimension=topic&series=week")
    assert status == 200 and body["department"] == "water"
    water_total = sum(
        1 for r in rows.values() if r.department == "water" and in_(r.created_at, YEAR)
    )
    assert sum(r["tickets"] for r in body["ranking"]) == water_total
    assert set(body["series"]) == {r["key"] for r in body["ranking"]}
    key = body["ranking"][0]["key"]
    status, body = await get(
        c, tok["water"], f"/api/hotspots/tickets?{period}&key={key}&per_page=200"
    )
    assert status == 200 and body["total"] > 0
    assert {id_dept[t["id"]] for t in body["tickets"]} == {"water"}
    with year.session() as s:
        raw = {t.id: t.title for t in s.scalars(select(Ticket))}
        logged_before = len(s.scalars(select(DataAccess)).all())
    masking = Redactor(
        load_policy(CONFIG / "protection.toml"),
        load_annotations(CONFIG / "catalog.toml"),
        "department",
    )
    assert masking.action("tickets", "title") is not Action.CLEAR
    assert [t["title"] for t in body["tickets"]] == [
        masking.value("tickets", "title", raw[t["id"]]) for t in body["tickets"]
    ]

    status, body = await get(c, tok["supervisor"], f"/api/hotspots/tickets?{period}&key={key}")
    assert status == 200 and any(t["title"] == raw[t["id"]] for t in body["tickets"])
    with year.session() as s:
        assert len(s.scalars(select(DataAccess)).all()) == logged_before + 1  # clear = on record

    for token, path, expected in (
        (tok["agent"], f"/api/scorecard?{period}", 403),
        (tok["water"], f"/api/analytics/service-quality?{period}", 403),
        (tok["nobody"], "/api/department/overview", 403),
        (tok["supervisor"], "/api/department/overview", 400),
        (tok["supervisor"], "/api/hotspots?dimension=planet", 400),
        (tok["supervisor"], "/api/hotspots?from=2026-02-30", 400),
    ):
        status, _ = await get(c, token, path)
        assert status == expected, path

    status, body = await get(c, tok["supervisor"], f"/api/analytics/service-quality?{period}")
    assert status == 200
    assert {s["stage"] for s in body["stages"][0]["stages"]} == set(service_quality.STAGE_LABELS)
    assert body["bounced"]["total"] == len(py_bounced(rows, YEAR))


def test_integration_report(year: Database) -> None:
    report = integration_report(year, CONFIG, date(2026, 7, 1), 30)
    numbers = load_config(CONFIG).numbers
    pivot = local(date(2026, 7, 1))
    before, after = Period(pivot - 30 * 86400, pivot), Period(pivot, pivot + 30 * 86400)
    with year.session() as s:
        calls = s.scalars(select(CallRecord)).all()
        channels = Counter(
            t.channel for t in s.scalars(select(Ticket)) if before.start <= t.created_at < after.end
        )
    in_window = [c for c in calls if before.start <= c.joined_at < after.end]
    assert report["numbers"]["configured"] == len(numbers)
    assert report["numbers"]["merged"] == len([n for n in numbers if n.did != "12345"])
    assert report["numbers"]["calls"] == len(in_window)
    per_did = Counter(c.did for c in in_window)
    assert {n["did"]: n["calls"] for n in report["numbers"]["list"]} == {
        n.did: per_did.get(n.did, 0) for n in numbers
    }
    assert report["numbers"]["calls_via_merged"] == len(in_window) - per_did.get("12345", 0)
    listed = report["channels"]["list"] + report["channels"]["unknown"]
    assert {c["channel"]: c["tickets"] for c in listed if c["tickets"]} == dict(channels)
    kpis = {k["kpi"]: k for k in report["kpis"]}
    for window, side in ((before, "before"), (after, "after")):
        offered = [c for c in calls if window.start <= c.joined_at < window.end]
        answered = [c for c in offered if c.connected_at is not None]
        within = [c for c in answered if (c.waited or 0) <= 15]
        assert kpis["offered"][side] == len(offered)
        assert kpis["connection_rate"][side] == pytest.approx(len(answered) / len(offered))
        assert kpis["sl15"][side] == pytest.approx(len(within) / len(offered))
    change = kpis["connection_rate"]["after"] - kpis["connection_rate"]["before"]
    assert kpis["connection_rate"]["change"] == pytest.approx(change)
    assert report["windows"]["before"]["end"] == pivot
    end = datetime.fromtimestamp(report["windows"]["after"]["end"], ZONE)
    assert end.date() == date(2026, 7, 31) and end.hour == 0


DUE_CASES = [  # created, deadline, now (hours), due-soon share, due-soon hours
    (0, 100, 50, 0.2, 0.0),  # normal
    (0, 100, 85, 0.2, 0.0),  # last 20 %: due soon
    (0, 100, 101, 0.2, 0.0),  # overdue
    (0, 100, 85, 0.1, 24.0),  # the 24 clock hours are longer than 10 %
    (0, 100, 70, 0.1, 24.0),  # normal
    (0, 10, 5, 0.2, 8.0),  # due soon by the hours
    (0, 10, 1, 0.2, 8.0),  # normal
]


def test_due_class_agrees_with_the_calendar(database: Database) -> None:
    from datetime import UTC

    from callcenter.analytics.department import due_class
    from callcenter.tickets.calendar import DeadlinePolicy, warning

    database.upgrade()
    base = 1_780_000_000.0
    with database.session() as s:
        for n, (created_h, deadline_h, _, _, _) in enumerate(DUE_CASES):
            created, deadline = base + created_h * 3600.0, base + deadline_h * 3600.0
            s.add(
                Ticket(
                    id=n + 1, number=f"T{n}", channel="phone", caller_number="",
                    caller_name="", did="", hotline="", region="", skill="", agent_id="",
                    ivr_path="", request_type="咨询", topic="", department="water", title="",
                    content="", address="", status="handling", version=1, state="{}",
                    proposal="{}", confirmed=1, created_at=created, updated_at=created,
                    deadline=deadline, repeats=0, search_text="",
                )
            )  # fmt: skip
        s.commit()
        for n, (created_h, deadline_h, now_h, share, hours) in enumerate(DUE_CASES):
            created, deadline, now = (base + h * 3600.0 for h in (created_h, deadline_h, now_h))
            policy = DeadlinePolicy(due_soon_share=share, due_soon_hours=hours)
            got = s.scalar(select(due_class(policy, now)).where(Ticket.id == n + 1))
            times = (datetime.fromtimestamp(x, UTC) for x in (created, deadline, now))
            assert got == warning(policy, *times).value, DUE_CASES[n]


def test_governance_invalid_records_earn_no_credit_or_rank(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a governance run, a ticket with an open error-severity issue counts but is judged
    on nothing; an unknown department code (every ticket of it invalid) has no score and ranks
    after every scored department (it used to lead, at 100 points)."""
    keys = tmp_path / "keys.toml"
    write_key_file(keys)
    monkeypatch.setenv(FILE_ENV, str(keys))
    assert main_synth(database.url, 1000, 11, date(2026, 1, 1), tmp_path / "t", CONFIG, 0.1) == 0
    config = scorecard.load_scorecard(CONFIG)
    assert "department.unknown" in config.invalid_rules
    assert "duplicate.entry" not in config.invalid_rules  # a warning: still credited
    quality = load_quality(CONFIG)
    after_the_year = datetime(2027, 1, 31, tzinfo=UTC)  # date.future: as of after the year
    run(database, quality.rules, load_cipher(), "full", "审计员", after_the_year)
    with database.session() as s:
        open_issues = s.execute(
            select(QualityIssue.record_id, QualityIssue.rule).where(QualityIssue.open == 1)
        ).all()
    invalid = frozenset(int(rec) for rec, rule in open_issues if rule in config.invalid_rules)
    unknown = {rec for rec, rule in open_issues if rule == "department.unknown"}
    rows = rows_of(database)
    bad_codes = {rows[int(rec)].department for rec in unknown}
    assert len(bad_codes) >= 2 and len(invalid) > len(unknown)
    expected = py_scores(rows, YEAR, AS_OF, config, invalid)
    with database.engine.connect() as conn:
        cards = scorecard.scorecards(conn, YEAR, config, AS_OF)
    by_dept = {c["department"]: c for c in cards}
    assert set(by_dept) == set(expected)
    for dept, (rates, score) in expected.items():
        assert by_dept[dept]["rates"] == pytest.approx(rates), dept
        assert by_dept[dept]["score"] == pytest.approx(score), dept
        assert by_dept[dept]["invalid"] == sum(
            1 for r in rows.values() if r.department == dept and r.id in invalid and in_(
                r.created_at, YEAR
            )
        )  # fmt: skip
    for code in bad_codes:
        assert by_dept[code]["score"] is None and by_dept[code]["invalid"] > 0, code
    scored = [c["score"] is not None for c in cards]
    assert scored == sorted(scored, reverse=True)  # every scored department first
    assert {c["department"] for c in cards if c["score"] is None} >= bad_codes
    with database.engine.connect() as conn:
        code = sorted(bad_codes, key=str)[0]
        assert code is not None
        total, items = scorecard.department_tickets(conn, YEAR, config, AS_OF, code, 1, 1000)
    assert total == len(items) == by_dept[code]["tickets"]
    assert all(i["invalid"] and set(i["criteria"].values()) == {None} for i in items)
    # a grid code outside the grid table ranks no place (it used to rank as the place "")
    grids = grids_of(database)
    assert sum(1 for r in rows.values() if r.grid not in grids) >= 3
    with database.engine.connect() as conn:
        for dim in ("district", "street"):
            ranked = hotspots.ranking(conn, dim, YEAR, limit=1000)
            got = [(r["key"], r["tickets"], r["previous"]) for r in ranked]
            assert got == py_ranking(rows, grids, YEAR, dim), dim
            assert all(r["key"] not in ("", "/") for r in ranked), dim
