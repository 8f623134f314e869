"""A call is scored once per rules version on SQLite and PostgreSQL: the unique index refuses
a second score, save_scores skips the calls another worker stored first and stores the rest of
its batch, and two workers draining one backlog at the same time store each call once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callcenter.inspection.config import load_inspection
from callcenter.inspection.score import Scored, score_call
from callcenter.inspection.store import due_calls, load_facts, save_score, save_scores
from callcenter.inspection.worker import score_batch, score_pending
from callcenter.storage.database import Database
from callcenter.storage.schema import Base, InspectionFinding, InspectionScore
from tests.storage.inspection_data import BASE, FIRE, GOOD, add_call

RULES = load_inspection(Path(__file__).resolve().parents[2] / "config")
NOW = BASE + 3600
CALLS = ["fire", "clean", "quiet"]


def seed(db: Database) -> None:
    db.upgrade()

    def work(s: Session) -> None:
        add_call(s, "fire", "1001", FIRE, BASE + 10)
        add_call(s, "clean", "1002", GOOD, BASE + 20, ticket=True)
        add_call(s, "quiet", "1003", GOOD[:3], BASE + 30)

    db.transaction(work)


def scored_now(s: Session) -> list[tuple[str, str, Scored]]:
    """What a worker computes for the calls due now: (call, agent, score)."""
    calls = due_calls(s, RULES.version, 500)
    return [(c, agent, score_call(RULES, f)) for c, (agent, f) in load_facts(s, calls).items()]


def counts(db: Database) -> tuple[dict[str, int], int]:
    """Scores per call, and all findings."""
    with db.session() as s:
        rows = s.execute(
            select(InspectionScore.call_id, func.count()).group_by(InspectionScore.call_id)
        )
        per_call = {call_id: int(n) for call_id, n in rows}
        findings = s.scalar(select(func.count()).select_from(InspectionFinding)) or 0
    return per_call, findings


def findings_of(scored: list[tuple[str, str, Scored]]) -> int:
    return sum(len(result.findings) for _, _, result in scored)


def test_the_database_refuses_a_second_score_under_one_version(database: Database) -> None:
    seed(database)
    assert score_pending(database, RULES, NOW) == 3
    row = {
        "call_id": "fire",
        "agent_id": "1001",
        "rules_version": RULES.version,
        "score": 100.0,
        "max_score": 100.0,
        "final_score": 100.0,
        "state": "scored",
        "scored_at": NOW,
        "updated_at": NOW,
    }
    with pytest.raises(IntegrityError):
        database.transaction(
            lambda s: s.execute(insert(Base.metadata.tables["inspection_scores"]), [row])
        )
    row["rules_version"] = "other-rules"  # another version: a score of its own
    database.transaction(
        lambda s: s.execute(insert(Base.metadata.tables["inspection_scores"]), [row])
    )
    assert counts(database)[0] == {"fire": 2, "clean": 1, "quiet": 1}


def test_save_scores_skips_the_calls_already_scored_and_stores_the_rest(
    database: Database,
) -> None:
    seed(database)
    with database.session() as s:
        batch = scored_now(s)
    assert [c for c, _, _ in batch] == CALLS
    first = database.transaction(lambda s: save_scores(s, batch[1:2], RULES.version, NOW))
    assert first[0] is not None
    ids = database.transaction(lambda s: save_scores(s, batch, RULES.version, NOW + 1))
    assert ids[1] is None and ids[0] is not None and ids[2] is not None
    assert len({i for i in ids if i is not None} | set(first)) == 3
    per_call, findings = counts(database)
    assert per_call == {"fire": 1, "clean": 1, "quiet": 1}
    assert findings == findings_of(batch)  # the skipped call's findings are not written twice
    with database.session() as s:
        clean = s.scalars(select(InspectionScore).where(InspectionScore.call_id == "clean")).one()
    assert (clean.id, clean.scored_at) == (first[0], NOW)  # the first score stands
    again = database.transaction(
        lambda s: save_score(s, "fire", "1001", RULES.version, batch[0][2], NOW + 2)
    )
    assert again is None
    assert database.transaction(lambda s: save_scores(s, [], RULES.version, NOW)) == []


def test_a_call_twice_in_one_batch_is_stored_once(database: Database) -> None:
    seed(database)
    with database.session() as s:
        batch = scored_now(s)
    ids = database.transaction(lambda s: save_scores(s, batch + batch[:1], RULES.version, NOW))
    assert ids[3] is None and None not in ids[:3]
    assert counts(database) == ({"fire": 1, "clean": 1, "quiet": 1}, findings_of(batch))


def test_two_workers_on_one_backlog_store_each_call_once(database: Database) -> None:
    """The first worker has stored its batch but not committed; the second finds the same
    calls due, scores them and writes: it waits for the first (PostgreSQL: the unique
    index's row lock; SQLite: the write lock), then skips every call instead of failing."""
    seed(database)
    first = database.session()
    assert score_batch(first, RULES, NOW, 500) == (3, 3)
    ready = threading.Event()
    second: dict[str, object] = {}

    def other_worker() -> None:
        try:
            with database.session() as s:
                batch = scored_now(s)  # the first's scores are not committed: all due
                ready.set()
                second["ids"] = save_scores(s, batch, RULES.version, NOW + 1)
                s.commit()
                second["calls"] = [c for c, _, _ in batch]
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            second["error"] = exc
        finally:
            ready.set()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert ready.wait(60)
        time.sleep(0.3)  # the second worker is now (most likely) waiting on its insert
        first.commit()
    finally:
        first.close()
        thread.join(60)
    assert "error" not in second, second.get("error")
    assert second == {"ids": [None, None, None], "calls": CALLS}
    per_call, findings = counts(database)
    assert per_call == {"fire": 1, "clean": 1, "quiet": 1}
    with database.session() as s:
        assert findings == findings_of(scored_now_for_all(s))
        assert set(s.scalars(select(InspectionScore.scored_at))) == {NOW}  # the first's


def scored_now_for_all(s: Session) -> list[tuple[str, str, Scored]]:
    facts = load_facts(s, CALLS)
    return [(c, agent, score_call(RULES, f)) for c, (agent, f) in facts.items()]


def test_score_pending_counts_what_it_stored(database: Database) -> None:
    seed(database)
    with database.session() as s:
        batch = scored_now(s)
    database.transaction(lambda s: save_scores(s, batch[:1], RULES.version, NOW))
    assert score_pending(database, RULES, NOW, batch=1) == 2
    assert score_pending(database, RULES, NOW) == 0
    assert counts(database)[0] == {"fire": 1, "clean": 1, "quiet": 1}
