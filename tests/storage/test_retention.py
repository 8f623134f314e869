"""Retention passes on SQLite and PostgreSQL: old rows deleted or anonymised, newer and open
ones untouched, dry runs count the same without changing anything, a second pass affects
nothing, the run report and the access log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, insert, select

from callcenter.data.retention import RetentionRunner, load_retention, main_retention
from callcenter.storage.database import Database
from callcenter.storage.schema import Base

DAY = 86400.0
NOW = 2_000_000_000.0  # 2033: every change_log row the ticket triggers write is older
OLD = NOW - 20 * DAY
NEW = NOW - 5 * DAY
MOBILE = "13812345678"
ID_CARD = "11010519491231002X"
CALL_ID_20 = "17312345678901234567"

CONFIG = """
[retention]
batch = 2  # small, so every rule needs several batches

[[rule]]
dataset = "queue_events"
days = 10
action = "delete"
age_field = "at"

[[rule]]
dataset = "calls"
days = 10
action = "anonymise"
age_field = "joined_at"
fields = { caller_number = "blank" }

[[rule]]
dataset = "tickets"
days = 10
action = "anonymise"
age_field = "closed_at"
where = { status_in = ["closed", "revisited", "evaluated"] }
[rule.fields]
caller_number = "blank"
caller_name = "blank"
address = "blank"
id_card = "blank"
id_card_hash = "blank"
title = "mask"
content = "mask"

[[rule]]
dataset = "transcript_segments"
days = 10
action = "delete"
age_field = "calls.joined_at"
"""

EXPECTED = {"queue_events": 5, "calls": 2, "tickets": 3, "transcript_segments": 3}
WATCHED = ("queue_events", "calls", "tickets", "transcript_segments", "data_access_log")


def table(name: str) -> Table:
    return Base.metadata.tables[name]


def ticket(
    id: int, status: str, closed_at: float | None, content: str, **identity: str
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": id,
        "number": f"T{id:04d}",
        "channel": "phone",
        "call_id": None,
        "caller_number": MOBILE,
        "caller_name": "张三",
        "did": "12345",
        "hotline": "12345",
        "region": "东城区",
        "skill": "general",
        "agent_id": "1001",
        "ivr_path": "",
        "request_type": "complaint",
        "topic": "环境卫生",
        "department": None,
        "title": f"来电 {MOBILE} 反映垃圾",
        "content": content,
        "address": "幸福小区3栋502",
        "status": status,
        "version": 1,
        "state": "{}",
        "proposal": "{}",
        "confirmed": 1,
        "created_at": OLD - 30 * DAY,
        "updated_at": OLD,
        "deadline": None,
        "closed_at": closed_at,
        "repeat_of": None,
        "repeats": 0,
        "search_text": "垃圾",
        "id_card": "gAAAAB-ciphertext",
        "id_card_hash": "f" * 64,
    }
    row.update(identity)
    return row


def call(call_id: str, joined_at: float, caller: str = MOBILE) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "node": "n1",
        "did": "12345",
        "hotline": "12345",
        "region": "东城区",
        "caller_number": caller,
        "skill": "general",
        "priority": 0,
        "joined_at": joined_at,
        "waited": 12.5,
        "talk_seconds": 90.0,
    }


def segment(id: int, call_id: str) -> dict[str, Any]:
    return {
        "id": id,
        "call_id": call_id,
        "seq": id,
        "speaker": "caller",
        "start": 0.0,
        "end": 1.0,
        "text": f"我的电话是{MOBILE}",
        "confidence": 0.9,
        "words": "[]",
    }


def seed(db: Database) -> None:
    db.upgrade()
    content = f"身份证{ID_CARD}，电话{MOBILE}"
    with db.engine.begin() as conn:
        conn.execute(
            insert(table("queue_events")),
            [
                {"at": at, "call_id": "c", "agent_id": "", "event": "join", "data": "{}"}
                for at in (OLD, OLD, OLD, OLD, OLD - DAY, NEW, NOW)
            ],
        )
        conn.execute(
            insert(table("calls")),
            [
                call("c-old-1", OLD),
                call("c-old-2", OLD - DAY),
                call("c-old-anon", OLD, caller=""),  # anonymous caller: nothing to remove
                call("c-new", NEW),
            ],
        )
        conn.execute(
            insert(table("transcript_segments")),
            [
                segment(1, "c-old-1"),
                segment(2, "c-old-1"),
                segment(3, "c-old-2"),
                segment(4, "c-new"),
                segment(5, "c-gone"),  # its call is not in calls: not aged by this rule
            ],
        )
        conn.execute(
            insert(table("tickets")),
            [
                ticket(1, "closed", OLD, content),
                ticket(2, "evaluated", OLD - DAY, content),
                ticket(3, "handling", OLD, content),  # reopened: open, keeps everything
                ticket(4, "closed", NEW, content),  # finished too recently
                ticket(5, "accepted", None, content),  # open, never closed
                ticket(  # anonymised already; a 20-digit call id in its content stays
                    6,
                    "closed",
                    OLD,
                    f"通话 {CALL_ID_20}，电话138****5678",
                    caller_number="",
                    caller_name="",
                    address="",
                    id_card="",
                    id_card_hash="",
                    title="来电 138****5678 反映垃圾",
                ),
                ticket(  # a web ticket with no identity fields, but a number in its content
                    7,
                    "closed",
                    OLD,
                    f"请回电{MOBILE}",
                    caller_number="",
                    caller_name="",
                    address="",
                    id_card="",
                    id_card_hash="",
                    title="网上留言",
                ),
            ],
        )


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    with db.engine.connect() as conn:
        return {
            name: [
                tuple(r)
                for r in conn.execute(select(table(name)).order_by(*table(name).primary_key))
            ]
            for name in WATCHED
        }


def rows(db: Database, name: str) -> dict[Any, dict[str, Any]]:
    t = table(name)
    key = next(iter(t.primary_key.columns))
    with db.engine.connect() as conn:
        return {r[key.name]: dict(r) for r in conn.execute(select(t)).mappings()}


def runs(db: Database) -> list[dict[str, Any]]:
    t = table("retention_runs")
    with db.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(t).order_by(t.c.id)).mappings()]


def counts(report: dict[str, Any]) -> dict[str, int]:
    return {r["dataset"]: r["rows"] for r in report["rules"]}


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "config"
    directory.mkdir()
    (directory / "retention.toml").write_text(CONFIG, encoding="utf-8")
    return directory


def test_dry_run_counts_and_changes_nothing(database: Database, config_dir: Path) -> None:
    seed(database)
    before = snapshot(database)
    result = RetentionRunner(database, load_retention(config_dir)).run(NOW, "tester", True)
    assert {r.dataset: r.rows for r in result.reports} == EXPECTED
    assert snapshot(database) == before
    [run] = runs(database)
    assert run["id"] == result.run_id and run["dry_run"] == 1 and run["actor"] == "tester"
    report = json.loads(run["report"])
    assert report["state"] == "done" and report["dry_run"] is True
    assert counts(report) == EXPECTED


def test_a_pass_deletes_and_anonymises_what_is_due(database: Database, config_dir: Path) -> None:
    seed(database)
    config = load_retention(config_dir)
    result = RetentionRunner(database, config).run(NOW, "tester", False)
    assert {r.dataset: r.rows for r in result.reports} == EXPECTED

    events = rows(database, "queue_events")
    assert sorted(e["at"] for e in events.values()) == [NEW, NOW]

    calls = rows(database, "calls")
    assert {k: c["caller_number"] for k, c in calls.items()} == {
        "c-old-1": "",
        "c-old-2": "",
        "c-old-anon": "",
        "c-new": MOBILE,
    }
    assert calls["c-old-1"]["talk_seconds"] == 90.0 and calls["c-old-1"]["region"] == "东城区"

    assert sorted(rows(database, "transcript_segments")) == [4, 5]

    tickets = rows(database, "tickets")
    for done in (1, 2):
        t = tickets[done]
        assert (t["caller_number"], t["caller_name"], t["address"]) == ("", "", "")
        assert (t["id_card"], t["id_card_hash"]) == ("", "")
        assert t["content"] == "身份证110105********002X，电话138****5678"
        assert t["title"] == "来电 138****5678 反映垃圾"
        assert (t["status"], t["topic"], t["region"]) != ("", "", "")  # statistics stay
    for kept in (3, 4, 5):
        t = tickets[kept]
        assert t["caller_number"] == MOBILE and t["caller_name"] == "张三"
        assert ID_CARD in t["content"] and t["id_card"] == "gAAAAB-ciphertext"
    assert CALL_ID_20 in tickets[6]["content"]
    assert tickets[7]["content"] == "请回电138****5678"

    access = table("data_access_log")
    with database.engine.connect() as conn:
        logged = [dict(r) for r in conn.execute(select(access).order_by(access.c.id)).mappings()]
    assert [(a["action"], a["dataset"], a["actor"]) for a in logged] == [
        ("purge", "queue_events", "tester"),
        ("purge", "calls", "tester"),
        ("purge", "tickets", "tester"),
        ("purge", "transcript_segments", "tester"),
    ]
    assert logged[2]["fields"].split(",")[:2] == ["caller_number", "caller_name"]
    assert all(f"retention run {result.run_id}" in a["purpose"] for a in logged)

    [run] = runs(database)
    report = json.loads(run["report"])
    assert run["dry_run"] == 0 and counts(report) == EXPECTED
    first = report["rules"][0]
    assert set(first) == {
        "dataset",
        "action",
        "days",
        "cutoff",
        "cutoff_utc",
        "fields",
        "rows",
        "seconds",
    }
    assert first["cutoff"] == NOW - 10 * DAY and first["action"] == "delete"
    assert first["cutoff_utc"].startswith("2033-05-08")
    assert first["seconds"] >= 0
    assert report["rules"][2]["fields"][-1] == "content"

    again = RetentionRunner(database, config).run(NOW, "tester", False)
    assert [r.rows for r in again.reports] == [0, 0, 0, 0]
    after = snapshot(database)
    assert len(after["data_access_log"]) == 4  # nothing changed, nothing logged
    dry = RetentionRunner(database, config).run(NOW, "tester", True)
    assert [r.rows for r in dry.reports] == [0, 0, 0, 0]
    assert [r["dry_run"] for r in runs(database)] == [0, 0, 1]


def test_the_command_reports_in_chinese(
    database: Database, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(database)
    assert main_retention(config_dir, database.url, True, "cli", NOW) == 0
    out = capsys.readouterr().out
    assert "queue_events：将删除 5 行" in out
    assert "tickets：将匿名化 3 行" in out
    assert "试运行，未改动数据" in out
    assert main_retention(config_dir, database.url, False, "cli", NOW) == 0
    out = capsys.readouterr().out
    assert "calls：匿名化 2 行" in out and "transcript_segments：删除 3 行" in out
    assert [r["actor"] for r in runs(database)] == ["cli", "cli"]


def test_the_shipped_rules_run(database: Database) -> None:
    """The shipped policy runs on both databases (its joins and text filters are valid SQL)."""
    seed(database)
    config = load_retention(Path(__file__).resolve().parents[2] / "config")
    result = RetentionRunner(database, config).run(NOW + 10 * 365 * DAY, "tester", False)
    got = {r.dataset: r.rows for r in result.reports}
    assert got["queue_events"] == 7 and got["transcript_segments"] == 4
    assert got["calls"] == 3
    assert got["tickets"] == 5  # finished 1, 2, 4, 6, 7 (search_text is blanked too)
    assert got["change_log"] > 0
