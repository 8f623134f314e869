"""Data governance on SQLite and PostgreSQL: tickets made through the store, one defect of
each kind planted with SQL; a full run finds each exactly once and nothing else; a correction
is audited and appended to the ticket's history; the next incremental run checks only what
changed and closes the issue; a re-run duplicates nothing; scores by hand; the report as XLSX;
evaluation against a hand-written truth file."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, text

from callcenter.data.crypto import FieldCipher, ephemeral_cipher
from callcenter.data.crypto import ephemeral_cipher as _phone_keys
from callcenter.data.quality.config import load_quality
from callcenter.data.quality.corrections import CorrectionError, correct
from callcenter.data.quality.evaluation import evaluate
from callcenter.data.quality.report import ISSUES_SHEET, OVERVIEW_SHEET, report, to_text, write_xlsx
from callcenter.data.quality.rules import DIMENSIONS, Rule
from callcenter.data.quality.runner import run
from callcenter.data.retention import load_retention, retired
from callcenter.storage.database import Database
from callcenter.storage.schema import (
    CallRecord,
    DataAccess,
    DataCorrection,
    QualityIssue,
    QualityRun,
    RefDepartment,
    RefGrid,
    Ticket,
    TicketHistory,
)
from callcenter.tickets import service as store
from callcenter.tickets.actions import (
    AcceptHandling,
    Action,
    Approve,
    Close,
    Dispatch,
    Evaluate,
    Reply,
    Revisit,
)
from callcenter.tickets.model import Actor, CallbackOutcome, Rating, Role
from callcenter.tickets.settings import TicketSettings, load_ticket_settings

PHONE_KEYS = _phone_keys()  # citizens' numbers are stored encrypted

REPO = Path(__file__).resolve().parents[2]
AGENT = Actor("1001", Role.AGENT)
SUPERVISOR = Actor("班长", Role.SUPERVISOR)
WATER = Actor("水务局", Role.DEPARTMENT, "water")
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
GOOD_ID = "11010519491231002X"
BAD_ID = "110105194912310021"
GOOD_USCC = "91350100M000100Y43"
CONTENTS = [
    "小区停水三天了",
    "路灯不亮很多天",
    "噪音扰民晚上施工",
    "公交站牌损坏",
    "垃圾清运不及时",
    "井盖丢失有危险",
    "树木遮挡红绿灯",
    "学校门口违章停车",
    "菜市场占道经营",
    "供暖温度不达标",
    "燃气表读数异常",
    "医保报销咨询",
    "公园厕所脏乱",
    "小区电梯故障",
    "社保卡补办流程",
    "出租车拒载投诉",
    "路灯夜间不亮",
    "小区门口积水",
    "噪音扰民严重",
    "共享单车乱停放",
    "养老金发放咨询",
    "道路坑洼不平",
    "夜市油烟扰民",
    "小区物业不作为",
    "施工围挡占道",
    "地铁站口无障碍坡道损坏",
]


@pytest.fixture(scope="module")
def settings() -> TicketSettings:
    return load_ticket_settings(REPO / "config")


@pytest.fixture(scope="module")
def rules() -> tuple[Rule, ...]:
    return load_quality(REPO / "config").rules


def later() -> datetime:
    """A run's start a little in the future: on PostgreSQL a run only takes changes logged
    more than SETTLE seconds before it starts."""
    return datetime.now(UTC) + timedelta(seconds=10)


def new_ticket(db: Database, settings: TicketSettings, i: int, **kw: object) -> int:
    intake = store.Intake(
        channel="phone",
        content=CONTENTS[i],
        caller_number=f"1381234{i:04d}",
        request_type="投诉",
        **kw,  # type: ignore[arg-type]
    )
    made = db.transaction(lambda s: store.create(s, settings, intake, AGENT, T0, cipher=PHONE_KEYS))
    assert not made.linked
    return made.ticket.id


def act(
    db: Database, settings: TicketSettings, ticket_id: int, steps: list[tuple[Action, Actor]]
) -> None:
    for n, (action, actor) in enumerate(steps, 1):
        step = partial(
            store.transition,
            settings=settings,
            ticket_id=ticket_id,
            action=action,
            actor=actor,
            at=T0 + timedelta(minutes=n),
        )
        db.transaction(lambda s: step(s))  # noqa: B023 - called at once


def set_columns(db: Database, ticket_id: int, **values: object) -> None:
    """Plant a defect: set columns directly with SQL (as a faulty import would). A phone
    number is stored as the store stores it: sealed (ciphertext and blind index)."""
    if "caller_number" in values:
        values["caller_number"], values["caller_number_hash"] = PHONE_KEYS.seal_phone(
            str(values["caller_number"])
        )
    assignments = ", ".join(f"{k} = :{k}" for k in values)
    with db.engine.begin() as conn:
        conn.execute(
            text(f"UPDATE tickets SET {assignments} WHERE id = :id"), {**values, "id": ticket_id}
        )


LIFECYCLE: list[tuple[Action, Actor]] = [
    (Dispatch("water"), AGENT),
    (AcceptHandling(), WATER),
    (Reply("已处理"), WATER),
    (Approve(), SUPERVISOR),
    (Close(), SUPERVISOR),
    (Revisit(CallbackOutcome.REACHED), AGENT),
    (Evaluate(Rating.SATISFIED), AGENT),
]


def plant(db: Database, settings: TicketSettings, cipher: FieldCipher) -> dict[str, int]:
    db.upgrade()
    db.transaction(
        lambda s: s.add_all(
            [
                RefDepartment(code="water", name="水务局"),
                RefDepartment(code="gas", name="燃气公司"),
                RefGrid(code="110105001001", name="第1网格", street="建外街道", district="朝阳区"),
            ]
        )
    )
    t = {
        name: new_ticket(db, settings, i)
        for i, name in enumerate(
            [
                "clean_done",
                "clean_ids",
                "clean_new",
                "phone",
                "id_card",
                "uscc",
                "dictionary",
                "content",
                "department",
                "unknown",
                "duplicate",
                "order",
                "evaluation",
                "late",
                "access",
                "channel",
                "received",
                "reply",
                "status",
                "rating",
                "grid",
                "stage",
                "call",
                "future",
            ]
        )
    }
    act(db, settings, t["clean_done"], LIFECYCLE)
    set_columns(
        db,
        t["clean_ids"],
        id_card=cipher.encrypt(GOOD_ID),
        id_card_hash=cipher.blind_index(GOOD_ID),
        enterprise_code=GOOD_USCC,
        received_at=T0.timestamp() - 3600,
    )
    set_columns(db, t["phone"], caller_number="1381234567")
    set_columns(db, t["id_card"], id_card=cipher.encrypt(BAD_ID))
    set_columns(db, t["uscc"], enterprise_code=GOOD_USCC[:17] + "4")
    set_columns(db, t["dictionary"], request_type="表扬")
    set_columns(db, t["content"], content="  ")
    act(db, settings, t["department"], LIFECYCLE[:1])
    set_columns(db, t["department"], department=None)
    set_columns(db, t["unknown"], department="police")
    # the same caller enters clean_new's request again an hour later
    set_columns(
        db,
        t["duplicate"],
        caller_number="13812340002",
        content=" " + CONTENTS[2],
        created_at=T0.timestamp() + 3600,
    )
    set_columns(db, t["order"], closed_at=T0.timestamp() - 60)
    set_columns(db, t["evaluation"], state=json.dumps({"rating": "满意", "callback": None}))
    set_columns(db, t["late"], received_at=T0.timestamp() - 86401)
    set_columns(db, t["access"], id_card=ephemeral_cipher().encrypt(GOOD_ID))
    set_columns(db, t["channel"], channel="电话")
    set_columns(db, t["received"], received_at=T0.timestamp() + 36 * 365 * 86400)  # 2062
    act(db, settings, t["reply"], LIFECYCLE[:5])  # replied, reviewed and closed
    with db.engine.begin() as conn:  # then the reply text lost
        state = json.loads(conn.scalar(text(f"SELECT state FROM tickets WHERE id = {t['reply']}")))
    set_columns(db, t["reply"], state=json.dumps({**state, "reply": ""}))
    set_columns(db, t["status"], status="已办结")  # a label typed for the code
    act(db, settings, t["rating"], LIFECYCLE)  # rated 满意, then the rating typed free
    with db.engine.begin() as conn:
        state = json.loads(conn.scalar(text(f"SELECT state FROM tickets WHERE id = {t['rating']}")))
    set_columns(db, t["rating"], state=json.dumps({**state, "rating": "很满意"}))
    set_columns(db, t["grid"], grid="110105999999")
    set_columns(db, t["stage"], received_at=T0.timestamp() + 600)  # accepted before it arrived
    db.transaction(lambda s: s.add(call_record("C-1", T0.timestamp() + 60)))
    set_columns(db, t["call"], call_id="C-1")  # entered a minute before its call came in
    act(db, settings, t["future"], LIFECYCLE[:5])
    set_columns(db, t["future"], closed_at=later().timestamp() + 2 * 365 * 86400)
    return t


def call_record(call_id: str, joined_at: float) -> CallRecord:
    return CallRecord(
        call_id=call_id,
        node="n1",
        did="12345",
        hotline="12345热线",
        region="市本级",
        caller_number="13812340000",
        skill="general",
        priority=0,
        joined_at=joined_at,
    )


def planted(t: dict[str, int]) -> set[tuple[str, str, str]]:
    return {
        (str(t["phone"]), "phone.format", "caller_number"),
        (str(t["id_card"]), "id_card.check", "id_card"),
        (str(t["uscc"]), "uscc.check", "enterprise_code"),
        (str(t["dictionary"]), "code.dictionary", "request_type"),
        (str(t["content"]), "required.missing", "content"),
        (str(t["department"]), "required.missing", "department"),
        (str(t["unknown"]), "department.unknown", "department"),
        (str(t["duplicate"]), "duplicate.entry", "content"),
        (str(t["order"]), "date.order", "closed_at"),
        (str(t["evaluation"]), "evaluation.without_callback", "state"),
        (str(t["late"]), "timeliness.late_entry", "created_at"),
        (str(t["access"]), "access.undecryptable", "id_card"),
        (str(t["channel"]), "code.channel", "channel"),
        (str(t["received"]), "date.range", "received_at"),
        (str(t["reply"]), "required.missing", "state.reply"),
        (str(t["status"]), "code.status", "status"),
        (str(t["rating"]), "code.rating", "state.rating"),
        (str(t["grid"]), "grid.unknown", "grid"),
        (str(t["stage"]), "stage.before_received", "first_stage_at"),
        (str(t["call"]), "entry.before_call", "created_at"),
        (str(t["future"]), "date.future", "closed_at"),
    }


def issues(db: Database, open_only: bool = True) -> list[QualityIssue]:
    query = select(QualityIssue).order_by(QualityIssue.id)
    if open_only:
        query = query.where(QualityIssue.open == 1)
    with db.session() as s:
        return list(s.scalars(query))


def keys(rows: list[QualityIssue]) -> list[tuple[str, str, str]]:
    return sorted((i.record_id, i.rule, i.field) for i in rows)


def scores_for(bad: dict[str, int], total: int) -> dict[str, float]:
    return {d: round(100 * (1 - bad.get(d, 0) / total), 2) for d in DIMENSIONS}


def test_full_run_correction_incremental_rerun(
    database: Database, settings: TicketSettings, rules: tuple[Rule, ...], tmp_path: Path
) -> None:
    cipher = PHONE_KEYS  # the keys the tickets' numbers are under
    t = plant(database, settings, cipher)
    total = len(t)

    full = run(database, rules, cipher, "full", "审计员", later())
    assert keys(issues(database)) == sorted(planted(t))  # each exactly once, nothing else
    assert (full.records, full.problems, full.opened, full.closed) == (total, 21, 21, 0)
    bad = {"规范性": 9, "完整性": 3, "准确性": 3, "一致性": 4, "时效性": 1, "可访问性": 1}
    assert full.scores == scores_for(bad, total)
    assert full.per_rule["required.missing"] == 3 and full.per_rule["phone.format"] == 1
    assert full.rules == 19
    with database.session() as s:
        stored = s.get(QualityRun, full.run_id)
        assert stored is not None and stored.finished_at is not None
        assert json.loads(stored.scores)["可访问性"] == full.scores["可访问性"]
        assert stored.upto_seq > 0
    phone_issue = next(i for i in issues(database) if i.rule == "phone.format")
    assert phone_issue.value == "********67" and phone_issue.run_id == full.run_id

    # a correction: audited, appended to the ticket's history, version moved on
    before_version = database.transaction(lambda s: store.get(s, t["phone"]).version)
    made = database.transaction(
        lambda s: correct(
            s,
            cipher,
            "tickets",
            str(t["phone"]),
            "caller_number",
            "13812345670",
            "来电号码少录一位",
            "班长",
            "supervisor",
            T0 + timedelta(days=1),
            phone_issue.id,
        )
    )
    with database.session() as s:
        row = store.get(s, t["phone"])
        assert PHONE_KEYS.decrypt(row.caller_number) == "13812345670"
        assert row.version == before_version + 1
        last = store.history(s, t["phone"])[-1]
        assert (last.action, last.actor, last.from_status, last.to_status) == (
            "correct",
            "班长",
            "accepted",
            "accepted",
        )
        assert "来电号码少录一位" in last.note and last.seq == before_version + 1
        audit = s.scalars(select(DataCorrection)).one()
        assert (audit.record_id, audit.field, audit.before, audit.after) == (
            str(t["phone"]),
            "caller_number",
            "********67",
            "138****5670",
        )
        assert audit.issue_id == phone_issue.id and audit.id == made.id

    incremental = run(database, rules, cipher, "incremental", "审计员", later())
    assert incremental.from_seq == full.upto_seq
    assert incremental.records == 1  # only the corrected ticket
    assert (incremental.opened, incremental.closed) == (0, 1)
    closed = [i for i in issues(database, open_only=False) if i.open == 0]
    assert [(i.record_id, i.rule, i.closed_run_id) for i in closed] == [
        (str(t["phone"]), "phone.format", incremental.run_id)
    ]
    assert incremental.scores == scores_for({**bad, "规范性": 8}, total)

    # nothing changed since: an incremental run checks nothing; a full re-run adds nothing
    idle = run(database, rules, cipher, "incremental", "审计员", later())
    assert (idle.records, idle.opened, idle.closed) == (0, 0, 0)
    rerun = run(database, rules, cipher, "full", "审计员", later())
    assert (rerun.problems, rerun.opened, rerun.closed) == (20, 0, 0)
    assert len(issues(database, open_only=False)) == 21

    # report: every problem traceable to record, field, rule and run
    rep = report(database, rerun.run_id)
    assert len(rep.issues) == 20 and rep.scores == rerun.scores
    assert all(i.run_id == full.run_id for i in rep.issues)
    assert len(report(database, full.run_id).issues) == 21  # history: as it was then
    assert "可访问性" in to_text(rep)
    path = tmp_path / "quality.xlsx"
    write_xlsx(rep, path, "审计员", datetime(2026, 11, 25, 9, 0))
    wb = load_workbook(path)
    assert wb.sheetnames == [OVERVIEW_SHEET, ISSUES_SHEET]
    for ws in wb.worksheets:
        assert ws["A1"].value == "导出人 审计员，时间 2026-11-25 09:00:00"
    overview = {r[0]: r[1] for r in wb[OVERVIEW_SHEET].iter_rows(min_row=3, values_only=True)}
    assert overview["可访问性"] == rep.scores["可访问性"] and overview["检查记录数"] == total
    lines = list(wb[ISSUES_SHEET].iter_rows(min_row=3, values_only=True))
    assert len(lines) == 20
    assert (str(t["late"]), "created_at", "timeliness.late_entry", "时效性") in [
        r[:4] for r in lines
    ]
    assert all(r[6] == full.run_id for r in lines)

    # evaluation against a hand-written truth file (one planted defect the run cannot see)
    truth = tmp_path / "defects.jsonl"
    lines_truth = [
        {"tbl": "tickets", "record_id": rec, "rule": rule, "field": fld}
        for rec, rule, fld in sorted(planted(t))
        if rule != "phone.format"
    ] + [
        {
            "tbl": "tickets",
            "record_id": str(t["clean_new"]),
            "rule": "uscc.check",
            "field": "enterprise_code",
        }
    ]
    truth.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines_truth) + "\n")
    recall, precision, per_rule = evaluate(database, rerun.run_id, truth)
    assert (recall, precision) == (20 / 21, 1.0)
    assert per_rule["uscc.check"].planted == 2 and per_rule["uscc.check"].matched == 1
    assert per_rule["required.missing"].recall == 1.0


def test_incremental_finds_a_new_duplicate_and_an_id_card_correction(
    database: Database, settings: TicketSettings, rules: tuple[Rule, ...]
) -> None:
    cipher = PHONE_KEYS  # the keys the tickets' numbers are under
    t = plant(database, settings, cipher)
    run(database, rules, cipher, "full", "审计员", later())
    # a new ticket of clean_done's caller repeating its request 2 hours later (entered
    # differently, then edited by SQL: the store would have linked it)
    extra = new_ticket(database, settings, 18)
    set_columns(
        database,
        extra,
        caller_number="13812340000",
        content=CONTENTS[0] + "\n",
        created_at=T0.timestamp() + 7200,
    )
    database.transaction(
        lambda s: correct(
            s,
            cipher,
            "tickets",
            str(t["id_card"]),
            "id_card",
            GOOD_ID.lower(),
            "核对证件",
            "班长",
            "supervisor",
            T0 + timedelta(days=1),
        )
    )
    inc = run(database, rules, cipher, "incremental", "审计员", later())
    assert inc.records == 2 and (inc.opened, inc.closed) == (1, 1)
    found = {(i.record_id, i.rule) for i in issues(database)}
    assert (str(extra), "duplicate.entry") in found
    assert (str(t["id_card"]), "id_card.check") not in found
    with database.session() as s:
        row = s.get(Ticket, t["id_card"])
        assert row is not None
        assert cipher.decrypt(row.id_card) == GOOD_ID and row.id_card_hash == cipher.blind_index(
            GOOD_ID
        )
        audit = s.scalars(select(DataCorrection)).one()
        assert audit.before == "110105********0021" and audit.after == "110105********002X"
        assert GOOD_ID not in audit.before + audit.after + audit.reason
        notes = s.scalars(select(TicketHistory.note).where(TicketHistory.action == "correct")).all()
        assert len(notes) == 1 and GOOD_ID not in notes[0]


@pytest.mark.parametrize(
    ("tbl", "field", "value", "reason", "fragment"),
    [
        ("calls", "caller_number", "13812345678", "x", "只能更正工单"),
        ("tickets", "status", "closed", "x", "不允许更正"),
        ("tickets", "caller_number", "13812345678", " ", "原因"),
        ("tickets", "caller_number", "123", "x", "不合规"),
        ("tickets", "id_card", BAD_ID, "x", "校验码错误"),
        ("tickets", "closed_at", "yesterday", "x", "时间格式无效"),
    ],
)
def test_refused_corrections_change_nothing(
    database: Database,
    settings: TicketSettings,
    tbl: str,
    field: str,
    value: str,
    reason: str,
    fragment: str,
) -> None:
    database.upgrade()
    ticket = new_ticket(database, settings, 0)
    cipher = PHONE_KEYS  # the keys the tickets' numbers are under
    with pytest.raises(CorrectionError, match=fragment):
        database.transaction(
            lambda s: correct(
                s, cipher, tbl, str(ticket), field, value, reason, "班长", "supervisor", T0
            )
        )
    with database.session() as s:
        assert s.scalars(select(DataCorrection)).all() == []
        assert [h.action for h in store.history(s, ticket)] == ["accept"]


def test_tickets_past_their_retention_are_out_of_scope(
    database: Database, settings: TicketSettings, rules: tuple[Rule, ...]
) -> None:
    """Retention blanks a finished ticket's number after five years: governance does not
    report the emptied number, and an issue the ticket had before closes; a young ticket with
    the same blank number is still reported."""
    cipher = PHONE_KEYS  # the keys the tickets' numbers are under
    database.upgrade()
    database.transaction(lambda s: s.add(RefDepartment(code="water", name="水务局")))
    old, young = new_ticket(database, settings, 0), new_ticket(database, settings, 1)
    for ticket_id in (old, young):
        act(database, settings, ticket_id, LIFECYCLE)
    set_columns(database, old, caller_number="1381234567")  # an entry mistake, found first
    first = run(database, rules, cipher, "full", "审计员", later())
    assert first.per_rule["phone.format"] == 1
    retention = load_retention(REPO / "config")
    six_years_ago = later().timestamp() - 6 * 365 * 86400
    set_columns(database, old, closed_at=six_years_ago, caller_number="", caller_name="")
    set_columns(database, young, caller_number="")
    for mode in ("incremental", "full"):
        now = later()
        scope = retired(retention, "tickets", now.timestamp())
        result = run(database, rules, cipher, mode, "审计员", now, scope)
        assert [(i.record_id, i.rule) for i in issues(database)] == [
            (str(young), "phone.format")
        ], mode
        assert result.records == 1, mode  # the young ticket (the old one is out of scope)
    with database.session() as s:
        closed = s.scalars(select(QualityIssue).where(QualityIssue.open == 0)).all()
        assert [(i.record_id, i.rule) for i in closed] == [(str(old), "phone.format")]


def test_a_closed_ticket_without_a_closing_time_is_in_scope(
    database: Database, settings: TicketSettings, rules: tuple[Rule, ...]
) -> None:
    """The retention scope ages a finished ticket by closed_at; one whose closing time was
    lost is not past retention (it cannot be aged), so governance checks it and reports the
    missing time instead of passing over it (the condition was NULL, not false)."""
    cipher = PHONE_KEYS  # the keys the tickets' numbers are under
    database.upgrade()
    database.transaction(lambda s: s.add(RefDepartment(code="water", name="水务局")))
    lost = new_ticket(database, settings, 0)
    act(database, settings, lost, LIFECYCLE)
    set_columns(database, lost, closed_at=None)
    retention = load_retention(REPO / "config")
    for mode in ("full", "incremental"):
        now = later()
        scope = retired(retention, "tickets", now.timestamp())
        assert scope is not None
        with database.engine.connect() as conn:  # the condition itself: false, not NULL
            assert conn.scalar(select(scope).select_from(Ticket)) in (False, 0), mode
        result = run(database, rules, cipher, mode, "审计员", now, scope)
        assert [(i.record_id, i.rule, i.field) for i in issues(database)] == [
            (str(lost), "required.missing", "closed_at")
        ], mode
    assert result.records == 0  # nothing changed since the full run


def test_a_run_that_decrypts_puts_its_decrypts_on_record(
    database: Database, settings: TicketSettings, rules: tuple[Rule, ...]
) -> None:
    """One access-log row per run that decrypted ID numbers (who ran it, how many, why), in
    the run's own transaction; a run that decrypted nothing writes none."""
    cipher = PHONE_KEYS  # the keys the tickets' numbers are under
    t = plant(database, settings, cipher)  # three tickets hold an ID number, one undecryptable
    full = run(database, rules, cipher, "full", "审计员", later())
    idle = run(database, rules, cipher, "incremental", "审计员", later())
    assert idle.records == 0
    with database.session() as s:
        rows = s.scalars(select(DataAccess)).all()
    assert [(r.actor, r.role, r.action, r.dataset, r.fields) for r in rows] == [
        ("审计员", "system", "decrypt", "tickets", "id_card,caller_number")
    ]
    assert rows[0].record_id == f"quality_run:{full.run_id}"
    # every ticket's number and the three ID numbers, one of which no key opens
    assert re.search(r"\d+ decrypt attempts \(1 undecryptable\)", rows[0].purpose)
    assert "full" in rows[0].purpose
    # a correction of one ID number: the incremental run decrypts that one
    database.transaction(
        lambda s: correct(
            s,
            cipher,
            "tickets",
            str(t["id_card"]),
            "id_card",
            GOOD_ID,
            "核对证件",
            "班长",
            "supervisor",
            T0 + timedelta(days=1),
        )  # fmt: skip
    )
    inc = run(database, rules, cipher, "incremental", "审计员", later())
    with database.session() as s:
        runs = select(DataAccess.purpose).where(DataAccess.record_id.like("quality_run:%"))
        purposes = s.scalars(runs.order_by(DataAccess.id)).all()
    assert len(purposes) == 2  # (the correction wrote its own row for its own decrypt)
    assert "decrypt attempts (0 undecryptable)" in purposes[1] and str(inc.run_id) in purposes[1]
