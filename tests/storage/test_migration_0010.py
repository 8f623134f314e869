"""Migration 0010 on SQLite and PostgreSQL, over rows written at 0009: the duplicate scores of
a call under one rules version are reduced to one (the reviewed one, else the first) before
the unique index, and the upgrade stops when two of them were reviewed; the knowledge entries
published now get their published_version and stay found, the others leave the full-text
index; downgrade and upgrade again work."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from callcenter.knowledge_base.search import search
from callcenter.knowledge_base.store import indexed_text
from callcenter.storage.database import MIGRATIONS, Database


def migrate(db: Database, revision: str, down: bool = False) -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(cfg, revision)


def run(db: Database, sql: str, rows: list[dict[str, Any]] | None = None) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(sql), rows or [{}])


def rows(db: Database, sql: str) -> list[tuple[Any, ...]]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def add_score(db: Database, score_id: int, call_id: str, version: str, findings: int) -> None:
    run(
        db,
        "INSERT INTO inspection_scores (id, call_id, agent_id, rules_version, score, max_score, "
        "final_score, state, scored_at, updated_at) VALUES "
        "(:id, :call, '1001', :version, 100, 100, 100, 'scored', 1, 1)",
        [{"id": score_id, "call": call_id, "version": version}],
    )
    run(
        db,
        "INSERT INTO inspection_findings (score_id, rule, passed, points, speaker, evidence) "
        "VALUES (:id, 'greeting', 1, 0, 'agent', '')",
        [{"id": score_id}] * findings,
    )


def review(db: Database, score_id: int) -> None:
    run(
        db,
        "INSERT INTO inspection_reviews (score_id, action, actor, role, note, at) "
        "VALUES (:id, 'review', '班长', 'supervisor', '', 2)",
        [{"id": score_id}],
    )


def test_duplicate_scores_are_reduced_to_one(database: Database) -> None:
    migrate(database, "0009")
    add_score(database, 1, "a", "v1", 2)
    add_score(database, 2, "a", "v1", 2)  # a second worker's copy
    add_score(database, 3, "a", "v1", 2)
    add_score(database, 4, "b", "v1", 3)
    add_score(database, 5, "b", "v1", 3)  # the reviewed copy is kept
    review(database, 5)
    add_score(database, 6, "c", "v1", 1)
    add_score(database, 7, "a", "v2", 1)  # another rules version: its own score
    migrate(database, "head")
    assert rows(
        database, "SELECT id, call_id, rules_version FROM inspection_scores ORDER BY id"
    ) == [
        (1, "a", "v1"),
        (5, "b", "v1"),
        (6, "c", "v1"),
        (7, "a", "v2"),
    ]
    assert rows(
        database,
        "SELECT score_id, count(*) FROM inspection_findings GROUP BY score_id ORDER BY score_id",
    ) == [(1, 2), (5, 3), (6, 1), (7, 1)]
    assert rows(database, "SELECT score_id FROM inspection_reviews") == [(5,)]
    with pytest.raises(IntegrityError):
        add_score(database, 8, "c", "v1", 0)


def test_two_reviewed_duplicates_stop_the_upgrade(database: Database) -> None:
    migrate(database, "0009")
    add_score(database, 1, "a", "v1", 1)
    add_score(database, 2, "a", "v1", 1)
    review(database, 1)
    review(database, 2)
    with pytest.raises(RuntimeError, match=r"inspection_scores \[1, 2\] all score call 'a'"):
        migrate(database, "head")


def test_downgrade_and_upgrade_again(database: Database) -> None:
    database.upgrade()
    add_score(database, 1, "a", "v1", 1)
    migrate(database, "0009", down=True)
    add_score(database, 2, "a", "v1", 1)  # no index at 0009
    migrate(database, "head")
    assert rows(database, "SELECT id FROM inspection_scores") == [(1,)]
    assert rows(database, "SELECT published_version FROM knowledge_entries") == []


def add_entry(
    db: Database, entry_id: int, status: str, version: int, title: str, body: str
) -> None:
    """An entry as the code before 0010 left it: search_text is the latest version's words."""
    run(
        db,
        "INSERT INTO knowledge_entries (id, kind, title, department, status, version, "
        "created_at, updated_at, search_text) VALUES "
        "(:id, 'policy', :title, '', :status, :version, 1, 1, :words)",
        [
            {
                "id": entry_id,
                "title": title,
                "status": status,
                "version": version,
                "words": indexed_text(title, body),
            }
        ],
    )
    run(
        db,
        "INSERT INTO knowledge_versions (entry_id, version, title, body, author, at, reviewer, "
        "note) VALUES (:id, :version, :title, :body, '编辑甲', 1, '', '')",
        [
            {"id": entry_id, "version": v, "title": title, "body": body}
            for v in range(1, version + 1)
        ],
    )


def test_the_entries_published_now_keep_being_served(database: Database) -> None:
    migrate(database, "0009")
    add_entry(database, 1, "published", 2, "住房公积金提取条件", "租房的职工可以提取住房公积金。")
    add_entry(database, 2, "review", 3, "暖气不热怎么办", "供暖期室温不达标可以报修。")
    add_entry(database, 3, "draft", 1, "燃气报修电话", "燃气泄漏请拨打抢修电话。")
    add_entry(database, 4, "expired", 1, "春节公积金业务暂停", "春节公积金柜台暂停。")
    add_entry(database, 5, "retired", 1, "旧的租房政策", "租房补贴已停止。")
    migrate(database, "head")
    assert rows(
        database,
        "SELECT id, status, version, published_version, search_text = '' "
        "FROM knowledge_entries ORDER BY id",
    ) == [
        (1, "published", 2, 2, False),
        (2, "review", 3, None, True),  # which older version was approved is not known
        (3, "draft", 1, None, True),
        (4, "expired", 1, None, True),
        (5, "retired", 1, None, True),
    ]
    with database.session() as s:
        assert [(h.entry_id, h.version) for h in search(s, "租房公积金", 10.0)] == [(1, 2)]
        assert search(s, "暖气报修", 10.0) == []
        if s.get_bind().dialect.name == "sqlite":  # the FTS rows followed search_text
            fts = "SELECT rowid FROM knowledge_fts WHERE knowledge_fts MATCH :q ORDER BY rowid"
            assert list(s.scalars(text(fts), {"q": '"租房"'})) == [1]
            assert list(s.scalars(text(fts), {"q": '"暖气"'})) == []
