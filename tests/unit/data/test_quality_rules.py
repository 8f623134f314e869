"""Quality rules as tables (every kind, with edge cases), config/quality.toml parsing with its
mistakes named by file and key, the run schedule, and evaluation against planted defects."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from callcenter.data.crypto import ephemeral_cipher
from callcenter.data.quality.config import load_quality, parse_quality
from callcenter.data.quality.evaluation import compare
from callcenter.data.quality.rules import (
    Context,
    Row,
    Rule,
    check,
    check_all,
    masked,
    normalise_space,
    scan_duplicates,
)
from callcenter.data.quality.runner import decryptor, score
from callcenter.data.quality.schedule import Schedule, due, parse_duration
from callcenter.tomlreader import ConfigErrors

REPO = Path(__file__).resolve().parents[3]
RULES = {r.id + ":" + ",".join(r.checked_fields): r for r in load_quality(REPO / "config").rules}
CIPHER = ephemeral_cipher()
OTHER = ephemeral_cipher()
GOOD_ID = "11010519491231002X"
BAD_ID = "110105194912310021"  # wrong check digit
GOOD_USCC = "91350100M000100Y43"
TODAY = date(2026, 11, 24)
JAN_2026 = 1_767_196_800.0  # 2026-01-01 00:00 Beijing time
NOW = JAN_2026 + 330 * 86400.0  # the run's time
CTX = Context(
    refs={
        ("ref_departments", "code"): frozenset({"water", "gas"}),
        ("ref_grids", "code"): frozenset({"110105001001"}),
    },
    decrypt=decryptor(CIPHER),
    today=TODAY,
    now=NOW,
)


def rule(key: str) -> Rule:
    return RULES[key]


def ids(problems: Iterable[Any]) -> list[tuple[str, str]]:
    return [(p.rule, p.field) for p in problems]


@pytest.mark.parametrize(
    ("key", "row", "expected"),
    [
        # phone
        ("phone.format:caller_number", {"caller_number": "13812345678"}, []),
        ("phone.format:caller_number", {"caller_number": "021-62345678"}, []),
        ("phone.format:caller_number", {"caller_number": "12345"}, []),
        ("phone.format:caller_number", {"caller_number": "+86 138 1234 5678"}, []),
        ("phone.format:caller_number", {"caller_number": "1381234567"}, ["caller_number"]),
        ("phone.format:caller_number", {"caller_number": "1381234567a"}, ["caller_number"]),
        ("phone.format:caller_number", {"caller_number": ""}, ["caller_number"]),
        # id card: decrypted, then checked; none and undecryptable are not this rule's
        ("id_card.check:id_card", {"id_card": CIPHER.encrypt(GOOD_ID)}, []),
        ("id_card.check:id_card", {"id_card": CIPHER.encrypt(GOOD_ID.lower())}, []),
        ("id_card.check:id_card", {"id_card": CIPHER.encrypt(BAD_ID)}, ["id_card"]),
        ("id_card.check:id_card", {"id_card": CIPHER.encrypt("110105194902300020")}, ["id_card"]),
        ("id_card.check:id_card", {"id_card": ""}, []),
        ("id_card.check:id_card", {"id_card": OTHER.encrypt(BAD_ID)}, []),
        # uscc
        ("uscc.check:enterprise_code", {"enterprise_code": GOOD_USCC}, []),
        ("uscc.check:enterprise_code", {"enterprise_code": ""}, []),
        (
            "uscc.check:enterprise_code",
            {"enterprise_code": GOOD_USCC[:17] + "4"},
            ["enterprise_code"],
        ),
        (
            "uscc.check:enterprise_code",
            {"enterprise_code": "91350100M000100I43"},
            ["enterprise_code"],
        ),
        # dictionary from config/tickets.toml
        ("code.dictionary:request_type", {"request_type": "投诉"}, []),
        ("code.dictionary:request_type", {"request_type": "意见建议"}, []),
        ("code.dictionary:request_type", {"request_type": "表扬"}, ["request_type"]),
        ("code.dictionary:request_type", {"request_type": ""}, ["request_type"]),
        # required: content at every stage, department once dispatched
        ("required.missing:content", {"content": "停水", "status": "accepted"}, []),
        ("required.missing:content", {"content": "  \n", "status": "accepted"}, ["content"]),
        ("required.missing:content", {"content": "", "status": "closed"}, ["content"]),
        ("required.missing:department", {"department": None, "status": "accepted"}, []),
        (
            "required.missing:department",
            {"department": None, "status": "dispatched"},
            ["department"],
        ),
        ("required.missing:department", {"department": " ", "status": "evaluated"}, ["department"]),
        ("required.missing:department", {"department": "water", "status": "closed"}, []),
        # reference
        ("department.unknown:department", {"department": "water"}, []),
        ("department.unknown:department", {"department": None}, []),
        ("department.unknown:department", {"department": ""}, []),
        ("department.unknown:department", {"department": "police"}, ["department"]),
        ("department.unknown:department", {"department": "Water"}, ["department"]),
        # order
        ("date.order:closed_at", {"created_at": 100.0, "closed_at": 200.0}, []),
        ("date.order:closed_at", {"created_at": 100.0, "closed_at": 100.0}, []),
        ("date.order:closed_at", {"created_at": 100.0, "closed_at": None}, []),
        ("date.order:closed_at", {"created_at": 100.0, "closed_at": 99.5}, ["closed_at"]),
        # json_requires
        (
            "evaluation.without_callback:state",
            {"state": {"rating": "满意", "callback": "reached"}},
            [],
        ),
        ("evaluation.without_callback:state", {"state": {"rating": None, "callback": None}}, []),
        ("evaluation.without_callback:state", {"state": {}}, []),
        ("evaluation.without_callback:state", {"state": None}, []),
        (
            "evaluation.without_callback:state",
            {"state": {"rating": "满意", "callback": None}},
            ["state"],
        ),
        ("evaluation.without_callback:state", {"state": {"rating": "不满意"}}, ["state"]),
        # lag
        ("timeliness.late_entry:created_at", {"received_at": 0.0, "created_at": 86400.0}, []),
        ("timeliness.late_entry:created_at", {"received_at": None, "created_at": 1e9}, []),
        (
            "timeliness.late_entry:created_at",
            {"received_at": 0.0, "created_at": 86401.0},
            ["created_at"],
        ),
        # decryptable
        ("access.undecryptable:id_card", {"id_card": CIPHER.encrypt(BAD_ID)}, []),
        ("access.undecryptable:id_card", {"id_card": ""}, []),
        ("access.undecryptable:id_card", {"id_card": OTHER.encrypt(GOOD_ID)}, ["id_card"]),
        ("access.undecryptable:id_card", {"id_card": CIPHER.current + ":garbage"}, ["id_card"]),
        ("access.undecryptable:id_card", {"id_card": "no-colon"}, ["id_card"]),
        # dictionary of the store's channels
        ("code.channel:channel", {"channel": "phone"}, []),
        ("code.channel:channel", {"channel": "miniprogram"}, []),
        ("code.channel:channel", {"channel": "电话"}, ["channel"]),
        ("code.channel:channel", {"channel": ""}, ["channel"]),
        # required per stage, a key of the state JSON
        ("required.missing:state.reply", {"state": {"reply": ""}, "status": "handling"}, []),
        ("required.missing:state.reply", {"state": {"reply": "已处理"}, "status": "replied"}, []),
        (
            "required.missing:state.reply",
            {"state": {"reply": " "}, "status": "evaluated"},
            ["state.reply"],
        ),
        ("required.missing:state.reply", {"state": {}, "status": "closed"}, ["state.reply"]),
        ("required.missing:state.reply", {"state": None, "status": "reviewed"}, ["state.reply"]),
        ("required.missing:closed_at", {"closed_at": None, "status": "replied"}, []),
        ("required.missing:closed_at", {"closed_at": 5.0, "status": "closed"}, []),
        ("required.missing:closed_at", {"closed_at": None, "status": "revisited"}, ["closed_at"]),
        # date: a valid instant, from 2000 on, at most a day after the last update
        ("date.range:received_at", {"received_at": JAN_2026, "updated_at": JAN_2026}, []),
        ("date.range:received_at", {"received_at": None, "updated_at": JAN_2026}, []),
        (
            "date.range:received_at",
            {"received_at": JAN_2026 + 86400, "updated_at": JAN_2026},
            [],
        ),
        (
            "date.range:received_at",
            {"received_at": JAN_2026 + 86401, "updated_at": JAN_2026},
            ["received_at"],
        ),
        (
            "date.range:received_at",
            {"received_at": JAN_2026 + 36 * 365 * 86400.0, "updated_at": JAN_2026},
            ["received_at"],
        ),
        ("date.range:received_at", {"received_at": 946_656_000.0, "updated_at": None}, []),
        (
            "date.range:received_at",
            {"received_at": 946_655_999.0, "updated_at": None},
            ["received_at"],
        ),
        ("date.range:received_at", {"received_at": 0.0, "updated_at": JAN_2026}, ["received_at"]),
        ("date.range:received_at", {"received_at": float("nan")}, ["received_at"]),
        ("date.range:received_at", {"received_at": float("inf")}, ["received_at"]),
        ("date.range:received_at", {"received_at": "2026-01-01"}, ["received_at"]),
        # status and rating within their dictionaries
        ("code.status:status", {"status": "closed"}, []),
        ("code.status:status", {"status": "已办结"}, ["status"]),
        ("code.status:status", {"status": ""}, ["status"]),
        ("code.status:status", {"status": "Closed"}, ["status"]),
        ("code.rating:state.rating", {"state": {"rating": "满意"}}, []),
        ("code.rating:state.rating", {"state": {"rating": "基本满意"}}, []),
        ("code.rating:state.rating", {"state": {"rating": None}}, []),  # not rated yet
        ("code.rating:state.rating", {"state": {}}, []),
        ("code.rating:state.rating", {"state": {"rating": "很满意"}}, ["state.rating"]),
        ("code.rating:state.rating", {"state": {"rating": "5"}}, ["state.rating"]),
        # grid within the imported grid table (empty: not this rule's business)
        ("grid.unknown:grid", {"grid": "110105001001"}, []),
        ("grid.unknown:grid", {"grid": ""}, []),
        ("grid.unknown:grid", {"grid": "110105999999"}, ["grid"]),
        # no stage before the request was received
        (
            "stage.before_received:first_stage_at",
            {"first_stage_at": JAN_2026, "received_at": JAN_2026},
            [],
        ),
        (
            "stage.before_received:first_stage_at",
            {"first_stage_at": JAN_2026, "received_at": None},
            [],
        ),
        (
            "stage.before_received:first_stage_at",
            {"first_stage_at": JAN_2026 - 1, "received_at": JAN_2026},
            ["first_stage_at"],
        ),
        # no entry before its call arrived (no call: nothing to compare)
        ("entry.before_call:created_at", {"created_at": JAN_2026, "call_arrived_at": JAN_2026}, []),
        ("entry.before_call:created_at", {"created_at": JAN_2026, "call_arrived_at": None}, []),
        (
            "entry.before_call:created_at",
            {"created_at": JAN_2026 - 60, "call_arrived_at": JAN_2026},
            ["created_at"],
        ),
        # no time later than the run's (NOW) beyond ten minutes of clock skew
        ("date.future:created_at", {"created_at": NOW + 600}, []),
        ("date.future:created_at", {"created_at": NOW + 601}, ["created_at"]),
        ("date.future:closed_at", {"closed_at": None}, []),
        ("date.future:closed_at", {"closed_at": NOW - 86400}, []),
        ("date.future:closed_at", {"closed_at": NOW + 2 * 365 * 86400.0}, ["closed_at"]),
        ("date.future:updated_at", {"updated_at": NOW + 3600}, ["updated_at"]),
        ("date.future:updated_at", {"updated_at": 0.0}, []),  # earliest is 1970
    ],
)
def test_each_kind(key: str, row: dict[str, object], expected: list[str]) -> None:
    r = rule(key)
    if row.get("caller_number"):  # stored encrypted: the rule decrypts it
        row = {**row, "caller_number": CIPHER.encrypt(str(row["caller_number"]))}
    found = check(r, row, CTX)
    assert [p.field for p in found] == expected
    assert all(p.rule == r.id and p.dimension == r.dimension and p.message for p in found)


def test_problem_values_are_masked() -> None:
    (p,) = check(rule("id_card.check:id_card"), {"id_card": CIPHER.encrypt(BAD_ID)}, CTX)
    assert p.value == "110105********0021" and BAD_ID not in p.message
    stored = {"caller_number": CIPHER.encrypt("138123456789")}
    (p,) = check(rule("phone.format:caller_number"), stored, CTX)
    assert p.value == "138*****6789" and "138123456789" not in p.message
    assert masked("content", "我的号码13812345678") == "我的号码138****5678"


def test_a_disabled_rule_finds_nothing() -> None:
    from dataclasses import replace

    r = replace(rule("phone.format:caller_number"), enabled=False)
    assert check(r, {"caller_number": "x"}, CTX) == []


DUP = "duplicate.entry:content"


def t(i: int, caller: str, content: str, at: float) -> Row:
    """A ticket row as the rule reads it: the caller by the blind index of the number."""
    return {"id": i, "caller_number_hash": caller, "content": content, "created_at": at}


@pytest.mark.parametrize(
    ("rows", "duplicates"),
    [
        ([t(1, "a", "停水", 0), t(2, "a", "停水", 3600)], [2]),
        ([t(1, "a", "停水", 0), t(2, "a", " 停 水\n", 3600)], [2]),
        ([t(1, "a", "停水", 0), t(2, "a", "停电", 3600)], []),
        ([t(1, "a", "停水", 0), t(2, "b", "停水", 3600)], []),
        ([t(1, "a", "停水", 0), t(2, "a", "停水", 86400)], [2]),
        ([t(1, "a", "停水", 0), t(2, "a", "停水", 86401)], []),
        ([t(1, "a", "停水", 0), t(2, "a", "停水", 50000), t(3, "a", "停水", 100000)], [2, 3]),
        ([t(1, "a", "停水", 5), t(2, "a", "停水", 5)], [2]),  # same second: the later id
        ([t(1, "a", "", 0), t(2, "a", "", 10)], []),  # empty content is required.missing's
    ],
)
def test_duplicates(rows: list[Row], duplicates: list[int]) -> None:
    r = rule(DUP)
    ordered = sorted(rows, key=lambda x: (str(x["caller_number_hash"]), x["created_at"], x["id"]))
    assert [i for i, _ in scan_duplicates(r, ordered)] == duplicates
    # the per-row check, given the earlier tickets, agrees with the sorted scan
    for row in rows:
        ctx = Context(earlier=lambda _r, _row: rows)
        assert bool(check(r, row, ctx)) == (row["id"] in duplicates)


def test_normalise_space() -> None:
    assert normalise_space(" 小区 停水\t三天\n") == "小区停水三天"


@pytest.mark.parametrize(("bad", "total", "expected"), [(0, 0, 100.0), (1, 4, 75.0), (3, 3, 0.0)])
def test_score(bad: int, total: int, expected: float) -> None:
    assert score(bad, total) == expected


# --- config ---------------------------------------------------------------------------------


def types() -> frozenset[str]:
    return frozenset({"咨询", "投诉"})


def test_the_shipped_config_has_every_rule_id_of_the_vocabulary() -> None:
    config = load_quality(REPO / "config")
    assert {r.id for r in config.enabled} == {
        "phone.format",
        "id_card.check",
        "uscc.check",
        "code.dictionary",
        "required.missing",
        "department.unknown",
        "duplicate.entry",
        "date.order",
        "evaluation.without_callback",
        "timeliness.late_entry",
        "access.undecryptable",
        "code.channel",
        "date.range",
        "code.status",
        "code.rating",
        "date.future",
        "grid.unknown",
        "stage.before_received",
        "entry.before_call",
    }
    assert config.schedule.incremental_every == 900.0


def test_a_rule_defers_to_the_rules_it_names_in_unless() -> None:
    """A received time typed years ahead makes every stage look earlier than the receipt:
    date.range reports the received time, stage.before_received stays silent on that row."""
    typed = {"received_at": JAN_2026 + 3 * 365 * 86400.0, "updated_at": JAN_2026}
    row = {**typed, "first_stage_at": JAN_2026}
    rules = [rule("stage.before_received:first_stage_at"), rule("date.range:received_at")]
    assert ids(check_all(rules, row, CTX)) == [("date.range", "received_at")]
    assert ids(check(rules[0], row, CTX)) == [("stage.before_received", "first_stage_at")]
    early = {"received_at": JAN_2026, "updated_at": JAN_2026, "first_stage_at": JAN_2026 - 60}
    assert ids(check_all(rules, early, CTX)) == [("stage.before_received", "first_stage_at")]


def test_a_new_rule_of_an_existing_kind_needs_no_code() -> None:
    data = {
        "rule": [
            {
                "id": "grid.unknown",
                "dimension": "准确性",
                "kind": "reference",
                "field": "grid",
                "table": "ref_grids",
            },
            {
                "id": "enterprise.missing",
                "dimension": "完整性",
                "kind": "required",
                "fields": ["enterprise_name"],
                "statuses": ["closed"],
            },
        ]
    }
    grid, name = parse_quality(data, "config/quality.toml", types).rules
    ctx = Context(refs={("ref_grids", "code"): frozenset({"g1"})})
    assert ids(check(grid, {"grid": "g2"}, ctx)) == [("grid.unknown", "grid")]
    assert check(grid, {"grid": "g1"}, ctx) == []
    assert ids(check(name, {"enterprise_name": "", "status": "closed"}, ctx)) == [
        ("enterprise.missing", "enterprise_name")
    ]


@pytest.mark.parametrize(
    ("rule_table", "key", "fragment"),
    [
        (
            {"id": "x", "dimension": "规范性", "kind": "nope", "field": "content"},
            "rule[0].kind",
            "unknown",
        ),
        (
            {"id": "x", "dimension": "好看", "kind": "phone", "field": "content"},
            "rule[0].dimension",
            "unknown",
        ),
        (
            {"id": "x", "dimension": "规范性", "kind": "phone", "field": "nofield"},
            "rule[0].field",
            "no column",
        ),
        (
            {"id": "x", "dimension": "规范性", "kind": "phone", "field": "content", "windo": 1},
            "rule[0].windo",
            "unknown key",
        ),
        (
            {"id": "x", "dimension": "规范性", "kind": "dictionary", "field": "request_type"},
            "rule[0]",
            "exactly one",
        ),
        (
            {
                "id": "x",
                "dimension": "规范性",
                "kind": "dictionary",
                "field": "request_type",
                "source": "x.y",
            },
            "rule[0].source",
            "unknown",
        ),
        (
            {
                "id": "x",
                "dimension": "准确性",
                "kind": "reference",
                "field": "grid",
                "table": "nope",
            },
            "rule[0].table",
            "no table",
        ),
        (
            {
                "id": "x",
                "dimension": "准确性",
                "kind": "reference",
                "field": "grid",
                "table": "ref_grids",
                "column": "zz",
            },
            "rule[0].column",
            "no column",
        ),
        (
            {
                "id": "x",
                "dimension": "完整性",
                "kind": "required",
                "fields": ["content"],
                "statuses": ["done"],
            },
            "rule[0].statuses[0]",
            "unknown status",
        ),
        ({"id": "x", "dimension": "完整性", "kind": "required"}, "rule[0].fields", "is required"),
        (
            {
                "id": "x",
                "dimension": "准确性",
                "kind": "duplicate",
                "field": "content",
                "keys": ["caller_number"],
                "window": 0,
            },
            "rule[0].window",
            "more than zero",
        ),
        (
            {
                "id": "x",
                "dimension": "准确性",
                "kind": "duplicate",
                "field": "content",
                "window": 5,
            },
            "rule[0].keys",
            "is required",
        ),
        (
            {"id": "x", "dimension": "时效性", "kind": "lag", "field": "created_at", "max": 5},
            "rule[0].since",
            "is required",
        ),
        (
            {
                "id": "x",
                "dimension": "一致性",
                "kind": "json_requires",
                "field": "state",
                "key": "a",
            },
            "rule[0].requires",
            "is required",
        ),
        (
            {
                "id": "x",
                "dimension": "规范性",
                "kind": "phone",
                "field": "content",
                "enabled": "yes",
            },
            "rule[0].enabled",
            "true or false",
        ),
        (
            {"id": "x", "dimension": "完整性", "kind": "required", "fields": ["content.reply"]},
            "rule[0].fields[0]",
            "only a JSON column",
        ),
        (
            {"id": "x", "dimension": "完整性", "kind": "required", "fields": ["state."]},
            "rule[0].fields[0]",
            "only a JSON column",
        ),
        (
            {"id": "x", "dimension": "完整性", "kind": "required", "fields": ["nope.reply"]},
            "rule[0].fields[0]",
            "no column 'nope'",
        ),
        (
            {
                "id": "x",
                "dimension": "规范性",
                "kind": "date",
                "field": "received_at",
                "earliest": "2000-13-01",
            },
            "rule[0].earliest",
            "YYYY-MM-DD",
        ),
        (
            {
                "id": "x",
                "dimension": "规范性",
                "kind": "date",
                "field": "received_at",
                "not_after": "updated",
            },
            "rule[0].not_after",
            "no column",
        ),
        (
            {"id": "x", "dimension": "规范性", "kind": "date", "field": "received_at", "ahead": -1},
            "rule[0].ahead",
            "zero or more",
        ),
        (
            {
                "id": "x",
                "dimension": "规范性",
                "kind": "dictionary",
                "field": "channel",
                "source": "tickets.channel",
            },
            "rule[0].source",
            "unknown",
        ),
        (
            {
                "id": "x",
                "dimension": "一致性",
                "kind": "order",
                "field": "first_stage_at",
                "not_before": "call_at",
            },
            "rule[0].not_before",
            "derived time",
        ),
        (
            {"id": "x", "dimension": "规范性", "kind": "phone", "field": "first_stage_at"},
            "rule[0].field",
            "no column",
        ),
        (
            {
                "id": "x",
                "dimension": "规范性",
                "kind": "dictionary",
                "field": "status.code",
                "values": ["a"],
            },
            "rule[0].field",
            "JSON column",
        ),
        (
            {
                "id": "x",
                "dimension": "规范性",
                "kind": "date",
                "field": "closed_at",
                "not_after": "tomorrow",
            },
            "rule[0].not_after",
            "no column",
        ),
        (
            {
                "id": "x",
                "dimension": "规范性",
                "kind": "phone",
                "field": "caller_number",
                "unless": ["date.rnage"],
            },
            "rule[0].unless[0]",
            "no rule with id 'date.rnage'",
        ),
        (
            {
                "id": "x",
                "dimension": "规范性",
                "kind": "phone",
                "field": "caller_number",
                "unless": "date.range",
            },
            "rule[0].unless",
            "array",
        ),
    ],
)
def test_config_mistakes_name_file_and_key(
    rule_table: dict[str, object], key: str, fragment: str
) -> None:
    with pytest.raises(ConfigErrors) as err:
        parse_quality({"rule": [rule_table]}, "config/quality.toml", types)
    assert any(e.key == key and fragment in e.message for e in err.value.errors), str(err.value)
    assert str(err.value).startswith("config/quality.toml: ")


def test_schedule_and_duplicate_rule_mistakes() -> None:
    one = {"id": "p", "dimension": "规范性", "kind": "phone", "field": "caller_number"}
    with pytest.raises(ConfigErrors) as err:
        parse_quality(
            {"schedule": {"incremental_every": "soon", "full_at": "25:00"}, "rule": [one, one]},
            "config/quality.toml",
            types,
        )
    keys = {e.key for e in err.value.errors}
    assert keys == {"schedule.incremental_every", "schedule.full_at", "rule[1].id"}


def test_every_mistake_of_a_file_in_one_report() -> None:
    """The model's mistakes (an unknown kind still has its common keys checked, each kind
    its own keys) and the checks across keys and rules come back together."""
    data = {
        "schedule": {"timezone": "Mars/Base", "every": "1h"},
        "rule": [
            {"id": "", "dimension": "好看", "kind": "nope", "field": "content", "window": 5},
            {"dimension": "准确性", "kind": "lag", "field": "created_at", "max": -1},
            {"id": "d", "dimension": "规范性", "kind": "dictionary", "field": "channel"},
            {"id": "r", "dimension": "准确性", "kind": "reference", "field": "grid",
             "table": "ref_grids", "column": "zz", "unless": ["d", "gone"]},
            {"id": "d", "dimension": "规范性", "kind": "dictionary", "field": "channel",
             "values": ["a"]},
        ],
    }  # fmt: skip
    with pytest.raises(ConfigErrors) as err:
        parse_quality(data, "config/quality.toml", types)
    assert all(e.file == "config/quality.toml" for e in err.value.errors)
    said = {e.key: e.message for e in err.value.errors}
    assert said == {
        "schedule.timezone": "unknown time zone 'Mars/Base'",
        "schedule.every": "unknown key (allowed: enabled, incremental_every, full_at, timezone)",
        "rule[0].id": "is empty",
        "rule[0].dimension": said["rule[0].dimension"],
        "rule[0].kind": said["rule[0].kind"],
        "rule[1].id": "is required",
        "rule[1].since": "is required",
        "rule[1].max": "must be more than zero",
        "rule[2]": "a dictionary rule needs exactly one of values or source",
        "rule[3].column": "no column 'zz' in table ref_grids",
        "rule[3].unless[1]": "no rule with id 'gone' in this file",
        "rule[4].id": "'d' on the same field(s) as rule[2]",
    }
    assert said["rule[0].kind"].startswith("unknown 'nope' (allowed: ")
    assert said["rule[0].dimension"].startswith("unknown '好看' (allowed: ")


def test_every_kind_has_its_model() -> None:
    from callcenter.data.quality.config import KIND_MODELS
    from callcenter.data.quality.rules import KINDS

    assert set(KIND_MODELS) == set(KINDS)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigErrors, match="quality.toml: required file is missing"):
        load_quality(tmp_path)


# --- schedule -------------------------------------------------------------------------------

SH = Schedule()  # every 15 min, full at 02:30 Asia/Shanghai


def at(text: str) -> datetime:
    return datetime.fromisoformat(text + "+08:00")


@pytest.mark.parametrize(
    ("last", "now", "expected"),
    [
        ({}, "2026-11-24 10:00", "full"),
        ({"full": at("2026-11-24 02:30").timestamp()}, "2026-11-24 02:40", None),
        ({"full": at("2026-11-24 02:30").timestamp()}, "2026-11-24 02:45", "incremental"),
        (
            {
                "full": at("2026-11-24 02:30").timestamp(),
                "incremental": at("2026-11-24 09:50").timestamp(),
            },
            "2026-11-24 10:00",
            None,
        ),
        (
            {
                "full": at("2026-11-24 02:30").timestamp(),
                "incremental": at("2026-11-24 09:45").timestamp(),
            },
            "2026-11-24 10:00",
            "incremental",
        ),
        ({"full": at("2026-11-24 02:30").timestamp()}, "2026-11-25 02:29", "incremental"),
        ({"full": at("2026-11-24 02:30").timestamp()}, "2026-11-25 02:30", "full"),
        ({"full": at("2026-11-23 23:00").timestamp()}, "2026-11-24 01:00", "incremental"),
        ({"full": at("2026-11-23 23:00").timestamp()}, "2026-11-23 23:10", None),
        ({"incremental": at("2026-11-24 09:59").timestamp()}, "2026-11-24 10:00", "full"),
    ],
)
def test_due(last: dict[str, float], now: str, expected: str | None) -> None:
    assert due(SH, last, at(now)) == expected


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15m", 900.0), ("30s", 30.0), ("2h", 7200.0), ("1d", 86400.0), ("0m", None), ("5", None)],
)
def test_parse_duration(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


# --- evaluation -----------------------------------------------------------------------------


def test_compare_counts_recall_and_precision_per_rule() -> None:
    truth = {("tickets", "1", "phone.format"), ("tickets", "2", "date.order")}
    found = {("tickets", "1", "phone.format"), ("tickets", "3", "date.order")}
    recall, precision, per_rule = compare(truth, found)
    assert (recall, precision) == (0.5, 0.5)
    assert per_rule["phone.format"].recall == 1.0
    assert (per_rule["date.order"].planted, per_rule["date.order"].matched) == (1, 0)
    assert compare(set(), set())[:2] == (1.0, 1.0)


def test_decryptor_reports_undecryptable_as_none() -> None:
    decrypt = decryptor(CIPHER)
    assert decrypt(CIPHER.encrypt(GOOD_ID)) == GOOD_ID
    assert decrypt(OTHER.encrypt(GOOD_ID)) is None
    assert decryptor(None)(CIPHER.encrypt(GOOD_ID)) is None
