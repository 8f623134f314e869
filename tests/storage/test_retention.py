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
        "follows",
        "days",
        "cutoff",
        "cutoff_utc",
        "fields",
        "rows",
        "files",
        "seconds",
    }
    assert first["cutoff"] == NOW - 10 * DAY and first["action"] == "delete"
    assert first["cutoff_utc"].startswith("2033-05-08")
    assert first["seconds"] >= 0 and first["follows"] == ""
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


# --- the records of a ticket follow it; callbacks, profiles, inspection evidence -------------

FOLLOWERS = """
[[rule]]
dataset = "ticket_history"
follows = "tickets"
link = "ticket_id"
action = "anonymise"
fields = { note = "mask" }

[[rule]]
dataset = "ticket_history"
follows = "tickets"
link = "ticket_id"
action = "anonymise"
where = { action_in = ["correct"] }
fields = { details = "clear" }

[[rule]]
dataset = "ticket_comments"
follows = "tickets"
link = "ticket_id"
action = "anonymise"
fields = { text = "mask" }

[[rule]]
dataset = "ticket_attachments"
follows = "tickets"
link = "ticket_id"
action = "anonymise"
fields = { name = "mask" }

[[rule]]
dataset = "surveys"
follows = "tickets"
link = "ticket_id"
action = "anonymise"
where = { state_not_in = ["scheduled", "calling"] }
fields = { number = "blank" }

[[rule]]
dataset = "data_corrections"
follows = "tickets"
link = "record_id"
action = "anonymise"
where = { tbl_in = ["tickets"], field_in = ["caller_number", "caller_name", "address", "id_card"] }
fields = { before = "blank", after = "blank", reason = "mask" }

[[rule]]
dataset = "quality_issues"
follows = "tickets"
link = "record_id"
action = "anonymise"
where = { tbl_in = ["tickets"] }
fields = { value = "blank" }

[[rule]]
dataset = "callbacks"
days = 10
action = "anonymise"
age_field = "requested_at"
where = { state_in = ["completed", "unreached"] }
fields = { number = "blank" }

[[rule]]
dataset = "profiles"
days = 10
action = "anonymise"
age_field = "last_seen"
where = { kind_in = ["person"] }
fields = { name = "blank", phone = "blank", id_card_hash = "blank" }

[[rule]]
dataset = "inspection_findings"
days = 10
action = "anonymise"
age_field = "inspection_scores.scored_at"
link = "score_id"
fields = { evidence = "blank" }
"""

# (data set, rows) per rule of CONFIG + FOLLOWERS, in file order. Tickets 1, 2, 6 and 7 are
# due (finished 20 days ago); 3 is open again, 4 finished 5 days ago, 5 never finished.
EXPECTED_ALL = [
    ("queue_events", 5),
    ("calls", 2),
    ("tickets", 3),
    ("transcript_segments", 3),
    ("ticket_history", 2),  # the notes of 1 and 11 hold a number
    ("ticket_history", 1),  # the correction 2 of ticket 1
    ("ticket_comments", 1),  # 1 (2 holds no number)
    ("ticket_attachments", 1),  # 1
    ("surveys", 1),  # 1 (2 is still to be dialled, 4 is ticket 7's and has no number)
    ("data_corrections", 1),  # 1 (2 corrected a time, 5 is not a ticket's)
    ("quality_issues", 1),  # 1 (3 is blank already)
    ("callbacks", 2),  # old-done and old-unreached
    ("profiles", 1),  # 1 (2 is an enterprise, 3 seen recently)
    ("inspection_findings", 1),  # 2 (of the old score 1)
]
FOLLOWED = (
    "ticket_history",
    "ticket_comments",
    "ticket_attachments",
    "surveys",
    "data_corrections",
    "quality_issues",
    "callbacks",
    "profiles",
    "inspection_scores",
    "inspection_findings",
)
ADDRESS_CHANGE = json.dumps(
    {"field": "address", "before": "幸福小区3栋502", "after": "幸福小区3栋503"}, ensure_ascii=False
)


def history(id: int, ticket_id: int, action: str, note: str, details: str = "{}") -> dict[str, Any]:
    return {
        "id": id,
        "ticket_id": ticket_id,
        "seq": id,
        "action": action,
        "actor": "1001",
        "role": "agent",
        "at": OLD - 25 * DAY,
        "from_status": "handling",
        "to_status": "handling",
        "note": note,
        "details": details,
    }


def seed_followers(db: Database) -> None:
    """Records of the tickets of `seed`, and of calls, callbacks, profiles, inspections."""
    said = f"我的电话是{MOBILE}"
    with db.engine.begin() as conn:
        conn.execute(
            insert(table("ticket_history")),
            [
                history(1, 1, "close", f"已电话联系{MOBILE}，办结"),
                history(2, 1, "correct", "更正诉求地址（address）：市民来电", ADDRESS_CHANGE),
                history(3, 3, "correct", f"回电{MOBILE}", ADDRESS_CHANGE),  # open ticket
                history(4, 4, "reply", f"回电{MOBILE}"),  # finished too recently
                history(5, 2, "dispatch", "派单", json.dumps({"department": "water"})),
                history(11, 2, "reply", f"已答复，回电{MOBILE}"),
                history(12, 99, "reply", f"回电{MOBILE}"),  # its ticket is not in tickets
            ],
        )
        conn.execute(
            insert(table("ticket_comments")),
            [
                {"id": i, "ticket_id": t, "at": OLD, "actor": "1001", "role": "agent", "text": x}
                for i, t, x in (
                    (1, 1, f"市民留了电话{MOBILE}"),
                    (2, 2, "自动回访3次未获评价，转人工回访。"),
                    (3, 3, f"市民留了电话{MOBILE}"),
                    (4, 4, f"市民留了电话{MOBILE}"),
                )
            ],
        )
        conn.execute(
            insert(table("ticket_attachments")),
            [
                {
                    "id": i,
                    "ticket_id": t,
                    "at": OLD,
                    "actor": "1001",
                    "name": f"身份证{ID_CARD}.jpg",
                    "content_type": "image/jpeg",
                    "size": 1000,
                    "sha256": "a" * 64,
                    "path": f"{i}.jpg",
                }
                for i, t in ((1, 2), (2, 5))
            ],
        )
        conn.execute(
            insert(table("surveys")),
            [
                {
                    "id": i,
                    "ticket_id": t,
                    "number": number,
                    "state": state,
                    "attempts": 1,
                    "due_at": OLD,
                    "rating": "satisfied" if state == "rated" else "",
                    "created_at": OLD,
                    "updated_at": OLD,
                }
                for i, t, number, state in (
                    (1, 1, MOBILE, "rated"),
                    (2, 2, MOBILE, "scheduled"),
                    (3, 4, MOBILE, "rated"),
                    (4, 7, "", "manual"),
                )
            ],
        )
        conn.execute(
            insert(table("data_corrections")),
            [
                {
                    "id": i,
                    "tbl": tbl,
                    "record_id": record,
                    "field": field,
                    "before": before,
                    "after": after,
                    "reason": f"市民{MOBILE}来电更正",
                    "issue_id": None,
                    "actor": "office",
                    "role": "office",
                    "at": OLD,
                }
                for i, tbl, record, field, before, after in (
                    (1, "tickets", "1", "address", "幸福小区3栋502", "幸福小区3栋503"),
                    (2, "tickets", "1", "closed_at", "2033-05-01", "2033-05-02"),
                    (3, "tickets", "3", "caller_name", "张*", "李*"),
                    (4, "tickets", "4", "address", "幸福小区3栋502", "幸福小区3栋503"),
                    (5, "calls", "1", "caller_name", "张*", "李*"),  # not a ticket's
                )
            ],
        )
        conn.execute(
            insert(table("quality_issues")),
            [
                {
                    "id": i,
                    "run_id": 1,
                    "tbl": "tickets",
                    "record_id": record,
                    "field": "address",
                    "rule": "address_format",
                    "dimension": "validity",
                    "message": "诉求地址不规范",
                    "value": value,
                    "open": 0,
                    "closed_run_id": 2,
                }
                for i, record, value in (
                    (1, "2", "幸福小区3栋502"),
                    (2, "4", "幸福小区"),
                    (3, "6", ""),
                )
            ],
        )
        conn.execute(
            insert(table("callbacks")),
            [
                {
                    "call_id": call_id,
                    "node": "n1",
                    "number": MOBILE,
                    "skill": "general",
                    "priority": 0,
                    "arrived_at": at,
                    "requested_at": at,
                    "state": state,
                    "attempts": 1,
                    "due_at": 0.0,
                    "agent_id": "",
                    "updated_at": at,
                }
                for call_id, at, state in (
                    ("cb-old-done", OLD, "completed"),
                    ("cb-old-unreached", OLD - DAY, "unreached"),
                    ("cb-old-waiting", OLD, "waiting"),  # queued again after a restart
                    ("cb-new", NEW, "completed"),
                )
            ],
        )
        conn.execute(
            insert(table("profiles")),
            [
                {
                    "id": i,
                    "kind": kind,
                    "name": name,
                    "phone": MOBILE,
                    "id_card_hash": "f" * 64 if kind == "person" else "",
                    "enterprise_code": "" if kind == "person" else "91110000100000000X",
                    "records": 3,
                    "first_seen": OLD - 100 * DAY,
                    "last_seen": last,
                    "run_at": NOW,
                }
                for i, kind, name, last in (
                    (1, "person", "张三", OLD),
                    (2, "enterprise", "某某物业公司", OLD),
                    (3, "person", "李四", NEW),
                )
            ],
        )
        conn.execute(
            insert(table("inspection_scores")),
            [
                {
                    "id": i,
                    "call_id": call_id,
                    "agent_id": "1001",
                    "rules_version": "v1",
                    "score": 90.0,
                    "max_score": 100.0,
                    "final_score": 90.0,
                    "state": "scored",
                    "scored_at": at,
                    "updated_at": at,
                }
                for i, call_id, at in ((1, "c-old-1", OLD), (2, "c-new", NEW))
            ],
        )
        conn.execute(
            insert(table("inspection_findings")),
            [
                {
                    "id": i,
                    "score_id": score,
                    "rule": "greeting",
                    "passed": 1,
                    "points": 0.0,
                    "speaker": "caller",
                    "start": 0.0,
                    "end": 1.0,
                    "evidence": evidence,
                }
                # finding 1 is of the new score: by its own id it would name the old score 1
                for i, score, evidence in ((1, 2, said), (2, 1, said), (3, 1, ""))
            ],
        )


@pytest.fixture
def all_config_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "all-config"
    directory.mkdir()
    (directory / "retention.toml").write_text(CONFIG + FOLLOWERS, encoding="utf-8")
    return directory


def every_row(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    with db.engine.connect() as conn:
        return {
            name: [
                tuple(r)
                for r in conn.execute(select(table(name)).order_by(*table(name).primary_key))
            ]
            for name in (*WATCHED, *FOLLOWED)
        }


def test_followers_dry_run_counts_and_changes_nothing(
    database: Database, all_config_dir: Path
) -> None:
    seed(database)
    seed_followers(database)
    before = every_row(database)
    result = RetentionRunner(database, load_retention(all_config_dir)).run(NOW, "tester", True)
    assert [(r.dataset, r.rows) for r in result.reports] == EXPECTED_ALL
    assert every_row(database) == before
    [run] = runs(database)
    report = json.loads(run["report"])
    assert [(r["dataset"], r["rows"]) for r in report["rules"]] == EXPECTED_ALL


def test_records_of_a_ticket_follow_it_and_the_rest_age_on_their_own(
    database: Database, all_config_dir: Path
) -> None:
    seed(database)
    seed_followers(database)
    config = load_retention(all_config_dir)
    result = RetentionRunner(database, config).run(NOW, "tester", False)
    assert [(r.dataset, r.rows) for r in result.reports] == EXPECTED_ALL

    steps = rows(database, "ticket_history")
    assert steps[1]["note"] == "已电话联系138****5678，办结"
    assert steps[11]["note"] == "已答复，回电138****5678"
    assert steps[2]["details"] == "{}" and steps[2]["note"] == "更正诉求地址（address）：市民来电"
    assert steps[2]["action"] == "correct" and steps[2]["actor"] == "1001"  # the record stays
    assert steps[3]["note"] == f"回电{MOBILE}" and steps[3]["details"] == ADDRESS_CHANGE
    assert steps[4]["note"] == f"回电{MOBILE}"
    assert json.loads(steps[5]["details"]) == {"department": "water"}
    assert steps[12]["note"] == f"回电{MOBILE}"

    comments = rows(database, "ticket_comments")
    assert {k: c["text"] for k, c in comments.items()} == {
        1: "市民留了电话138****5678",
        2: "自动回访3次未获评价，转人工回访。",
        3: f"市民留了电话{MOBILE}",
        4: f"市民留了电话{MOBILE}",
    }
    attachments = rows(database, "ticket_attachments")
    assert attachments[1]["name"] == "身份证110105********002X.jpg"
    assert attachments[2]["name"] == f"身份证{ID_CARD}.jpg"

    surveys = rows(database, "surveys")
    assert {k: s["number"] for k, s in surveys.items()} == {1: "", 2: MOBILE, 3: MOBILE, 4: ""}
    assert surveys[1]["rating"] == "satisfied" and surveys[1]["state"] == "rated"

    corrections = rows(database, "data_corrections")
    assert (corrections[1]["before"], corrections[1]["after"]) == ("", "")
    assert corrections[1]["reason"] == "市民138****5678来电更正"
    assert corrections[1]["field"] == "address" and corrections[1]["actor"] == "office"
    for kept in (2, 3, 4, 5):
        assert corrections[kept]["before"] != "" and MOBILE in corrections[kept]["reason"]

    issues = rows(database, "quality_issues")
    assert {k: i["value"] for k, i in issues.items()} == {1: "", 2: "幸福小区", 3: ""}

    callbacks = rows(database, "callbacks")
    assert {k: c["number"] for k, c in callbacks.items()} == {
        "cb-old-done": "",
        "cb-old-unreached": "",
        "cb-old-waiting": MOBILE,
        "cb-new": MOBILE,
    }
    profiles = rows(database, "profiles")
    assert (profiles[1]["name"], profiles[1]["phone"], profiles[1]["id_card_hash"]) == ("", "", "")
    assert profiles[1]["records"] == 3 and profiles[1]["kind"] == "person"
    assert profiles[2]["name"] == "某某物业公司" and profiles[3]["name"] == "李四"

    findings = rows(database, "inspection_findings")
    assert {k: f["evidence"] for k, f in findings.items()} == {
        1: f"我的电话是{MOBILE}",
        2: "",
        3: "",
    }
    assert findings[2]["rule"] == "greeting" and findings[2]["passed"] == 1

    access = table("data_access_log")
    with database.engine.connect() as conn:
        logged = [dict(r) for r in conn.execute(select(access).order_by(access.c.id)).mappings()]
    assert [a["dataset"] for a in logged] == [d for d, _ in EXPECTED_ALL]
    assert {a["action"] for a in logged} == {"purge"}
    by_purpose = {(a["dataset"], a["fields"]): a["purpose"] for a in logged}
    assert by_purpose[("surveys", "number")].endswith(
        "anonymise rows older than 10 days with their tickets row (linked by ticket_id)"
    )
    assert "with their" not in by_purpose[("callbacks", "number")]

    report = json.loads(runs(database)[0]["report"])
    follows = {(r["dataset"], tuple(r["fields"])): r["follows"] for r in report["rules"]}
    assert follows[("ticket_history", ("details",))] == "tickets"
    assert follows[("data_corrections", ("before", "after", "reason"))] == "tickets"
    assert follows[("inspection_findings", ("evidence",))] == ""
    assert {r["days"] for r in report["rules"]} == {10}

    again = RetentionRunner(database, config).run(NOW, "tester", False)
    assert all(r.rows == 0 for r in again.reports)
    assert len(rows(database, "data_access_log")) == len(EXPECTED_ALL)


def test_followers_in_the_console_report(
    database: Database, all_config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(database)
    seed_followers(database)
    assert main_retention(all_config_dir, database.url, True, "cli", NOW) == 0
    out = capsys.readouterr().out
    assert (
        "ticket_history：将匿名化 2 行（2033-05-08 之前，保存 10 天，随 tickets；字段 note）" in out
    )
    assert "callbacks：将匿名化 2 行（2033-05-08 之前，保存 10 天；字段 number）" in out


def test_the_shipped_rules_reach_every_record_of_a_finished_ticket(database: Database) -> None:
    seed(database)
    seed_followers(database)
    config = load_retention(Path(__file__).resolve().parents[2] / "config")
    result = RetentionRunner(database, config).run(NOW + 10 * 365 * DAY, "tester", False)
    got: dict[str, int] = {}
    for r in result.reports:
        got[r.dataset] = got.get(r.dataset, 0) + r.rows
    # every ticket but the open 3 and 5 is finished and 10 years old now
    assert got["ticket_history"] == 4  # notes of 1, 4, 11; the correction 2 of ticket 1
    assert got["ticket_comments"] == 2 and got["ticket_attachments"] == 1
    assert got["surveys"] == 2 and got["data_corrections"] == 2 and got["quality_issues"] == 2
    assert got["callbacks"] == 3 and got["profiles"] == 2 and got["inspection_findings"] == 2
    assert rows(database, "ticket_history")[3]["note"] == f"回电{MOBILE}"  # ticket 3 is open
    assert rows(database, "surveys")[2]["number"] == MOBILE  # still to be dialled


def test_masked_text_with_landlines_and_grouped_numbers_is_found_and_masked(
    database: Database, config_dir: Path
) -> None:
    """A number written as a landline or in groups (no 11-digit run) is still picked and
    masked; once masked, a second pass finds nothing to do."""
    database.upgrade()
    bare = {
        "caller_number": "",
        "caller_name": "",
        "address": "",
        "id_card": "",
        "id_card_hash": "",
    }
    texts = {
        1: "请回电 010-6234 5678",
        2: "手机 138 1234 5678",
        3: "固话0571-8765432，旧身份证110105491231002",
        4: "工单2026年11月26日已回复",  # nothing to mask
    }
    with database.engine.begin() as conn:
        conn.execute(
            insert(table("tickets")),
            [
                ticket(k, "closed", OLD, text, **bare) | {"title": "网上留言"}
                for k, text in texts.items()
            ],
        )
    config = load_retention(config_dir)
    result = RetentionRunner(database, config).run(NOW, "tester", False)
    assert {r.dataset: r.rows for r in result.reports}["tickets"] == 3
    content = {k: t["content"] for k, t in rows(database, "tickets").items()}
    assert content == {
        1: "请回电 010-**** 5678",
        2: "手机 138 **** 5678",
        3: "固话0571-***5432，旧身份证110105*****1002",
        4: "工单2026年11月26日已回复",
    }
    again = RetentionRunner(database, config).run(NOW, "tester", False)
    assert {r.dataset: r.rows for r in again.reports}["tickets"] == 0


ATTACHMENT_FILES = """
[[rule]]
dataset = "ticket_attachments"
follows = "tickets"
link = "ticket_id"
action = "anonymise"
fields = { name = "mask", path = "blank" }
"""


def test_attachment_files_go_with_the_ticket_unless_another_ticket_shares_them(
    database: Database, config_dir: Path, tmp_path: Path
) -> None:
    """Tickets 1 and 2 are due, 4 is not. Ticket 1's photo is removed from disk; the file
    ticket 2 shares with ticket 4 (stored by content hash) stays for ticket 4; a path outside
    the root is never touched. A dry run counts and removes nothing."""
    seed(database)
    root = tmp_path / "attachments"
    outside = tmp_path / "outside.jpg"
    for rel in ("ab/own.jpg", "cd/shared.jpg"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"jpeg")
    outside.write_bytes(b"jpeg")
    with database.engine.begin() as conn:
        conn.execute(
            insert(table("ticket_attachments")),
            [
                {
                    "id": i,
                    "ticket_id": t,
                    "at": OLD,
                    "actor": "1001",
                    "name": "照片.jpg",
                    "content_type": "image/jpeg",
                    "size": 4,
                    "sha256": "a" * 64,
                    "path": path,
                }
                for i, t, path in (
                    (1, 1, "ab/own.jpg"),
                    (2, 2, "cd/shared.jpg"),
                    (3, 4, "cd/shared.jpg"),
                    (4, 2, "../outside.jpg"),
                )
            ],
        )
    (config_dir / "retention.toml").write_text(CONFIG + ATTACHMENT_FILES, encoding="utf-8")
    runner = RetentionRunner(database, load_retention(config_dir), {"ticket_attachments": root})
    dry = runner.run(NOW, "tester", True)
    assert [(r.rows, r.files) for r in dry.reports if r.dataset == "ticket_attachments"] == [(3, 1)]
    assert (root / "ab/own.jpg").exists()
    done = runner.run(NOW, "tester", False)
    assert [(r.rows, r.files) for r in done.reports if r.dataset == "ticket_attachments"] == [
        (3, 1)
    ]
    assert json.loads(runs(database)[-1]["report"])["rules"][-1]["files"] == 1
    assert not (root / "ab/own.jpg").exists()
    assert (root / "cd/shared.jpg").exists() and outside.exists()
    paths = {k: a["path"] for k, a in rows(database, "ticket_attachments").items()}
    assert paths == {1: "", 2: "", 3: "cd/shared.jpg", 4: ""}
    again = runner.run(NOW, "tester", False)
    assert [(r.rows, r.files) for r in again.reports if r.dataset == "ticket_attachments"] == [
        (0, 0)
    ]


def test_the_name_blanked_is_masked_in_the_same_row_s_text(
    database: Database, config_dir: Path
) -> None:
    """No pattern finds a name in free text, but the row names its caller: 张三 in the title
    and content of the ticket whose caller_name is blanked becomes 张*; another name stays."""
    database.upgrade()
    with database.engine.begin() as conn:
        conn.execute(
            insert(table("tickets")),
            [
                ticket(1, "closed", OLD, "张三反映：邻居李四家漏水", title="张三反映漏水"),
                ticket(2, "closed", OLD, "张三反映", caller_name="王"),  # too short to look for
            ],
        )
    RetentionRunner(database, load_retention(config_dir)).run(NOW, "tester", False)
    got = {
        k: (t["title"], t["content"], t["caller_name"])
        for k, t in rows(database, "tickets").items()
    }
    assert got == {
        1: ("张*反映漏水", "张*反映：邻居李四家漏水", ""),
        2: ("来电 138****5678 反映垃圾", "张三反映", ""),
    }
