"""Quality inspection on SQLite and PostgreSQL: the backlog of transcribed calls is scored
once under a rules version (an emergency call transferred, one not, a clean call with its
ticket; pending and failed transcriptions wait), findings keep their evidence, reviews are
append-only and move the final score and state, listings and per-agent summaries filter."""

from __future__ import annotations

import asyncio
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from callcenter.inspection.config import load_inspection, parse_inspection
from callcenter.inspection.score import ReviewRefused
from callcenter.inspection.store import (
    ScoreNotFound,
    ScoreQuery,
    add_review,
    agent_summary,
    list_scores,
    score_detail,
    scores_of_calls,
)
from callcenter.inspection.worker import main_inspect, run_inspection, score_pending
from callcenter.storage.database import Database
from callcenter.storage.schema import InspectionFinding, InspectionReview, InspectionScore
from tests.storage.inspection_data import BASE, FIRE, GOOD, add_call, add_many, synthetic_calls

CONFIG = Path(__file__).resolve().parents[2] / "config"
RULES = load_inspection(CONFIG)
NOW = BASE + 3600


def items(value: object) -> list[dict[str, Any]]:
    assert isinstance(value, list)
    return value


def seed(db: Database) -> None:
    db.upgrade()

    def work(s: Session) -> None:
        add_call(s, "fire-transferred", "1001", FIRE, BASE + 10, transfers=[("119", "requested")])
        add_call(s, "fire-missed", "1002", FIRE, BASE + 20)
        add_call(s, "clean", "1001", GOOD, BASE + 30, ticket=True)
        add_call(s, "not-yet", "1001", GOOD, BASE + 40, state="pending")
        add_call(s, "broken", "1001", GOOD, BASE + 50, state="failed")

    db.transaction(work)


def by_call(db: Database) -> dict[str, InspectionScore]:
    with db.session() as s:
        return {r.call_id: r for r in s.scalars(select(InspectionScore))}


def test_backlog_is_scored_once(database: Database) -> None:
    seed(database)
    assert score_pending(database, RULES, NOW, batch=2) == 3
    assert score_pending(database, RULES, NOW + 1) == 0
    scores = by_call(database)
    assert set(scores) == {"fire-transferred", "fire-missed", "clean"}
    assert {c: (r.agent_id, r.score, r.state) for c, r in scores.items()} == {
        "fire-transferred": ("1001", 100.0, "scored"),
        "fire-missed": ("1002", 0.0, "scored"),  # fatal: the caller's fire went untransferred
        "clean": ("1001", 100.0, "scored"),
    }
    assert all(
        r.rules_version == RULES.version and r.final_score == r.score for r in scores.values()
    )
    with database.session() as s:
        missed = score_detail(s, scores["fire-missed"].id)
        transferred = score_detail(s, scores["fire-transferred"].id)
        clean = score_detail(s, scores["clean"].id)
    assert missed is not None and transferred is not None and clean is not None
    failed = [f for f in items(missed["findings"]) if not f["passed"]]
    assert failed == [
        {
            "rule": "emergency_transfer",
            "passed": False,
            "points": -100.0,
            "speaker": "caller",
            "start": 3.0,
            "end": 8.0,
            "evidence": "我家楼下着火了，救命！",
        }
    ]
    emergency = [f for f in items(transferred["findings"]) if f["rule"] == "emergency_transfer"]
    assert emergency[0]["passed"] and emergency[0]["evidence"] == "我家楼下着火了，救命！"
    confirmed = {f["rule"]: f for f in items(clean["findings"])}
    assert confirmed["confirm_address"]["evidence"] == "您的地址是幸福路8号对吗"
    assert confirmed["confirm_phone"]["passed"] is True
    assert clean["call_at"] == BASE + 30


def test_new_rules_version_scores_again(database: Database) -> None:
    seed(database)
    assert score_pending(database, RULES, NOW) == 3
    with (CONFIG / "inspection.toml").open("rb") as f:
        data = tomllib.load(f)
    data["long_silence"]["seconds"] = 1.0
    stricter = parse_inspection(data, "inspection.toml")
    assert score_pending(database, stricter, NOW + 60) == 3
    assert score_pending(database, stricter, NOW + 61) == 0
    with database.session() as s:
        rows = scores_of_calls(s, ["clean"])
    assert [(r.rules_version, r.score) for r in rows] == [
        (RULES.version, 100.0),
        (stricter.version, 100.0),  # no gap over 1 s in the clean call
    ]


def test_review_dispute_resolve_override(database: Database) -> None:
    seed(database)
    score_pending(database, RULES, NOW)
    sid = by_call(database)["fire-missed"].id

    def step(action: str, actor: str, role: str, new: float | None, note: str) -> None:
        database.transaction(lambda s: add_review(s, sid, action, actor, role, new, note, NOW))

    with pytest.raises(ReviewRefused):
        step("dispute", "1001", "agent", None, "不是我的电话")  # another agent's call
    step("dispute", "1002", "agent", None, "来电人说的是电视里着火")
    with pytest.raises(ReviewRefused):
        step("review", "班长", "supervisor", None, "")  # a dispute is resolved, not reviewed
    step("resolve", "班长", "supervisor", 90.0, "核实为误报，未转接情有可原")
    assert (
        by_call(database)["fire-missed"].state,
        by_call(database)["fire-missed"].final_score,
    ) == (
        "reviewed",
        90.0,
    )
    step("override", "质检组长", "supervisor", 60.0, "仍应询问并视情况转接")
    row = by_call(database)["fire-missed"]
    assert (row.score, row.final_score, row.state) == (0.0, 60.0, "overridden")
    with database.session() as s:
        detail = score_detail(s, sid)
    assert detail is not None
    assert [(r["action"], r["actor"], r["score"]) for r in items(detail["reviews"])] == [
        ("dispute", "1002", None),
        ("resolve", "班长", 90.0),
        ("override", "质检组长", 60.0),
    ]
    with pytest.raises(ScoreNotFound):
        database.transaction(
            lambda s: add_review(s, 999999, "review", "班长", "supervisor", None, "")
        )


@pytest.mark.parametrize("statement", ["update", "delete"])
def test_reviews_are_append_only(database: Database, statement: str) -> None:
    seed(database)
    score_pending(database, RULES, NOW)
    sid = by_call(database)["clean"].id
    database.transaction(lambda s: add_review(s, sid, "review", "班长", "supervisor", None, "好"))
    change = (
        update(InspectionReview).values(note="改过")
        if statement == "update"
        else delete(InspectionReview)
    )
    with pytest.raises(DBAPIError, match="append-only"):
        database.transaction(lambda s: s.execute(change))
    with database.session() as s:
        assert s.scalars(select(InspectionReview.note)).all() == ["好"]


def test_listing_and_agent_summary(database: Database) -> None:
    seed(database)
    score_pending(database, RULES, NOW)
    with database.session() as s:
        mine = list_scores(s, ScoreQuery(agent="1001"))
        window = list_scores(s, ScoreQuery(since=BASE + 15, until=BASE + 25))
        page = list_scores(s, ScoreQuery(limit=1, offset=1))
        disputed = list_scores(s, ScoreQuery(state="disputed"))
        summary = agent_summary(s, ScoreQuery())
    assert [r["call_id"] for r in items(mine["scores"])] == ["clean", "fire-transferred"]
    assert [r["call_id"] for r in items(window["scores"])] == ["fire-missed"]
    assert page["total"] == 3 and [r["call_id"] for r in items(page["scores"])] == ["fire-missed"]
    assert disputed == {"total": 0, "scores": []}
    assert summary == [
        {
            "agent_id": "1001",
            "calls": 2,
            "average": 100.0,
            "lowest": 100.0,
            "disputed": 0,
            "failed": {},
        },
        {
            "agent_id": "1002",
            "calls": 1,
            "average": 0.0,
            "lowest": 0.0,
            "disputed": 0,
            "failed": {"emergency_transfer": 1},
        },
    ]


def test_main_inspect(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(database)
    assert main_inspect(CONFIG, database.url) == 0
    assert "新评分 3 通" in capsys.readouterr().out
    assert main_inspect(CONFIG, database.url) == 0
    assert "新评分 0 通" in capsys.readouterr().out
    bad = tmp_path / "config"
    bad.mkdir()
    (bad / "inspection.toml").write_text('version = "x"\nmax_score = 0\n', encoding="utf-8")
    assert main_inspect(bad, database.url) == 2
    assert "config/inspection.toml: max_score: must be greater than 0" in capsys.readouterr().err


def test_scoring_speed(database: Database) -> None:
    """2,000 synthetic transcripts: every one scored once; the speed is printed (no limit)."""
    database.upgrade()
    calls = synthetic_calls(2000, seed=44192)

    def work(s: Session) -> None:
        add_many(s, calls, BASE)

    database.transaction(work)
    started = time.perf_counter()
    assert score_pending(database, RULES, NOW) == 2000
    took = time.perf_counter() - started
    with database.session() as s:
        findings = s.scalar(select(func.count()).select_from(InspectionFinding))
        failed = s.scalar(
            select(func.count()).select_from(InspectionFinding).where(InspectionFinding.passed == 0)
        )
        low = s.scalar(select(func.min(InspectionScore.score)))
        high = s.scalar(select(func.max(InspectionScore.score)))
    print(
        f"\ninspection {database.engine.dialect.name}: 2000 calls in {took:.2f} s "
        f"({2000 / took:.0f} calls/s), {findings} findings ({failed} failed), "
        f"scores {low}..{high}"
    )
    assert failed and findings and low is not None and high == 100.0


async def test_worker_scores_in_a_thread_when_woken(database: Database) -> None:
    """run_inspection drains the backlog at start and again when woken, then stops."""
    seed(database)
    stopping, wake = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_inspection(database, RULES, stopping, wake, interval=600))

    async def scored(count: int) -> None:
        while len(by_call(database)) < count:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(scored(3), 60)
    database.transaction(lambda s: add_call(s, "later", "1003", GOOD, BASE + 60))
    wake.set()
    await asyncio.wait_for(scored(4), 60)
    stopping.set()
    await asyncio.wait_for(task, 60)
    assert by_call(database)["later"].agent_id == "1003"
