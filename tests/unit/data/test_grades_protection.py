"""Grades, the catalogue's notes, the masking policy and the redactor (pure: no database)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from callcenter.data.catalog import (
    Annotations,
    UnknownField,
    field_grade,
    field_kind,
    load_annotations,
    parse_annotations,
)
from callcenter.data.grades import Grade, Kind, highest
from callcenter.data.protection import (
    ROLES,
    Action,
    MaskingPolicy,
    Redactor,
    load_policy,
    mask_address,
    mask_name,
    mask_uscc,
    mask_value,
    parse_policy,
)
from callcenter.tomlreader import ConfigError, ConfigErrors

REPO = Path(__file__).resolve().parents[3]
CATALOG = REPO / "config" / "catalog.toml"
PROTECTION = REPO / "config" / "protection.toml"


# --- grades ---------------------------------------------------------------------------------


def test_grades_are_ordered_lowest_first() -> None:
    assert [g.rank for g in Grade] == [0, 1, 2, 3]
    assert Grade.CORE.rank > Grade.SENSITIVE.rank > Grade.INTERNAL.rank > Grade.PUBLIC.rank


@pytest.mark.parametrize(
    ("grades", "expected"),
    [
        ([], Grade.PUBLIC),
        ([Grade.PUBLIC], Grade.PUBLIC),
        ([Grade.INTERNAL, Grade.PUBLIC], Grade.INTERNAL),
        ([Grade.PUBLIC, Grade.SENSITIVE, Grade.INTERNAL], Grade.SENSITIVE),
        ([Grade.CORE, Grade.SENSITIVE], Grade.CORE),
    ],
)
def test_highest_grade(grades: list[Grade], expected: Grade) -> None:
    assert highest(grades) is expected


@pytest.mark.parametrize(
    ("grade", "label"),
    [
        (Grade.PUBLIC, "公开"),
        (Grade.INTERNAL, "内部"),
        (Grade.SENSITIVE, "敏感个人信息"),
        (Grade.CORE, "核心"),
    ],
)
def test_grade_labels(grade: Grade, label: str) -> None:
    assert grade.label == label


def test_every_kind_has_a_chinese_label() -> None:
    labels = [k.label for k in Kind]
    assert len(set(labels)) == len(Kind)
    assert Kind.SECRET.label == "密文或摘要"


# --- masking by kind ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三", "张*"), ("欧阳修文", "欧***"), ("李", "*"), ("", ""), (" 王芳 ", "王*")],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("北京市朝阳区建国路88号院3号楼502", "北京市朝阳区建国路****"),
        ("海淀区中关村大街27号", "海淀区中关村大街****"),
        ("东城区东华门街道南池子大街12号", "东城区东华门街道****"),
        ("昌平区小汤山镇大东流村5号", "昌平区小汤山镇****"),
        ("西城区福绥境胡同9号", "西城区福绥境胡同****"),
        ("幸福小区3栋2单元1101室", "幸福小区3栋****"),
        ("某小区", "某****"),
        ("", ""),
    ],
)
def test_mask_address(address: str, masked: str) -> None:
    assert mask_address(address) == masked


@pytest.mark.parametrize(
    ("code", "masked"),
    [
        ("91110108MA01ABCD2X", "91110108********2X"),
        ("9111010812", "9111010812"),
        ("911101", "******"),
        ("", ""),
    ],
)
def test_mask_uscc(code: str, masked: str) -> None:
    assert mask_uscc(code) == masked


@pytest.mark.parametrize(
    ("kind", "value", "masked"),
    [
        (Kind.PLAIN, "anything", "***"),
        (Kind.PLAIN, 42, "***"),
        (Kind.PHONE, "13812345678", "138****5678"),
        (Kind.ID_CARD, "110101199003071234", "110101********1234"),
        (Kind.NAME, "张三丰", "张**"),
        (Kind.ADDRESS, "朝阳区建国路88号", "朝阳区建国路****"),
        (Kind.TEXT, "我的电话13812345678，楼下噪音", "我的电话138****5678，楼下噪音"),
        (
            Kind.TEXT,
            "身份证110101199003071234丢了",
            "身份证110101********1234丢了",
        ),
        (Kind.USCC, "91110108MA01ABCD2X", "91110108********2X"),
        (Kind.SECRET, "k1:gAAAAAB...", None),
        (Kind.PHONE, None, None),
    ],
)
def test_mask_value_by_kind(kind: Kind, value: object, masked: object) -> None:
    assert mask_value(kind, value) == masked


# --- the policy -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "public", "internal", "sensitive", "core"),
    [
        ("agent", "clear", "clear", "clear", "mask"),
        ("supervisor", "clear", "clear", "clear", "mask"),
        ("department", "clear", "clear", "mask", "mask"),
        ("admin", "clear", "clear", "clear", "mask"),
        ("auditor", "clear", "clear", "clear", "mask"),
    ],
)
def test_shipped_policy(role: str, public: str, internal: str, sensitive: str, core: str) -> None:
    policy = load_policy(PROTECTION)
    assert [policy.action(role, g) for g in Grade] == [public, internal, sensitive, core]


def _full(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    masking: dict[str, Any] = {
        role: {"public": "clear", "internal": "clear", "sensitive": "mask", "core": "hide"}
        for role in ROLES
    }
    masking.update(overrides or {})
    return {"masking": masking}


def test_policy_allows_a_retention_part_and_ignores_it() -> None:
    data = _full()
    data["retention"] = [{"dataset": "calls", "days": 1095}]
    policy = parse_policy(data, "config/protection.toml")
    assert policy.action("agent", Grade.CORE) is Action.HIDE


def _errors(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    with pytest.raises(ConfigError) as info:
        parse_policy(data, "config/protection.toml")
    found = info.value.errors if isinstance(info.value, ConfigErrors) else [info.value]
    return [(e.file, e.key, e.message) for e in found]


@pytest.mark.parametrize(
    ("data", "key", "words"),
    [
        (
            _full({"cashier": {"public": "clear"}}),
            "masking.cashier",
            "unknown key",
        ),
        (
            _full(
                {
                    "agent": {
                        "public": "clear",
                        "internal": "clear",
                        "sensitive": "mask",
                        "core": "hide",
                        "secret": "hide",
                    }
                }
            ),
            "masking.agent.secret",
            "unknown key",
        ),
        (
            _full(
                {
                    "agent": {
                        "public": "clear",
                        "internal": "clear",
                        "sensitive": "blur",
                        "core": "hide",
                    }
                }
            ),
            "masking.agent.sensitive",
            "'blur' is not one of clear, mask, hide",
        ),
        (
            _full(
                {"agent": {"public": "clear", "internal": "clear", "sensitive": 1, "core": "hide"}}
            ),
            "masking.agent.sensitive",
            "must be a string",
        ),
        (
            _full({"auditor": {"public": "clear", "internal": "clear", "sensitive": "clear"}}),
            "masking.auditor.core",
            "is required",
        ),
        (
            {"masking": {r: v for r, v in _full()["masking"].items() if r != "department"}},
            "masking.department",
            "is required",
        ),
        ({}, "masking", "is required"),
        ({**_full(), "masks": {}}, "masks", "unknown key"),
        ({"masking": "clear"}, "masking", "must be a table"),
    ],
)
def test_policy_errors_name_the_file_and_key(data: dict[str, Any], key: str, words: str) -> None:
    errors = _errors(data)
    assert any(
        file == "config/protection.toml" and k == key and words in message
        for file, k, message in errors
    ), errors


def test_policy_reports_every_mistake_at_once() -> None:
    data = _full(
        {
            "agent": {"public": "clear", "internal": "clear", "sensitive": "x", "core": "y"},
            "robot": {},
        }
    )
    keys = {key for _, key, _ in _errors(data)}
    assert keys == {"masking.agent.sensitive", "masking.agent.core", "masking.robot"}


def test_policy_mistakes_come_in_one_report_with_file_key_and_what_is_allowed() -> None:
    masking = _full()["masking"]
    masking["agent"] = {"public": "blur", "internal": 2, "sensitive": "mask"}
    del masking["admin"]
    assert _errors({"masking": masking, "masks": 1}) == [
        (
            "config/protection.toml",
            "masking.agent.public",
            "'blur' is not one of clear, mask, hide",
        ),
        ("config/protection.toml", "masking.agent.internal", "must be a string, got int 2"),
        ("config/protection.toml", "masking.agent.core", "is required"),
        (
            "config/protection.toml",
            "masking.admin",
            "is required (an action for each grade: public, internal, sensitive, core)",
        ),
        (
            "config/protection.toml",
            "masks",
            "unknown key (allowed: masking, retention)",
        ),
    ]


def test_load_policy_names_the_file_of_broken_toml(tmp_path: Path) -> None:
    path = tmp_path / "config" / "protection.toml"
    path.parent.mkdir()
    path.write_text("[masking\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^config/protection.toml: is not valid TOML"):
        load_policy(path)


# --- the redactor: every kind under every action --------------------------------------------

SAMPLES: dict[Kind, object] = {
    Kind.PLAIN: "受理",
    Kind.PHONE: "13912345678",
    Kind.ID_CARD: "11010119900307123X",
    Kind.NAME: "李小龙",
    Kind.ADDRESS: "浦东新区世纪大道100号",
    Kind.TEXT: "回电13912345678",
    Kind.USCC: "91310115MA1K3ABC7Q",
    Kind.SECRET: "k1:gAAAAABsecret",
}
MASKED: dict[Kind, object] = {
    Kind.PLAIN: "***",
    Kind.PHONE: "139****5678",
    Kind.ID_CARD: "110101********123X",
    Kind.NAME: "李**",
    Kind.ADDRESS: "浦东新区世纪大道****",
    Kind.TEXT: "回电139****5678",
    Kind.USCC: "91310115********7Q",
    Kind.SECRET: None,
}


def _annotations() -> Annotations:
    columns = {k.value: {"meaning": k.label, "grade": "sensitive", "kind": k.value} for k in Kind}
    columns["counted"] = {"meaning": "数量", "grade": "public"}
    columns["vault"] = {"meaning": "核心", "grade": "core", "kind": "id_card"}
    data = {
        "table": {
            "sample": {
                "title": "样例",
                "dataset": "测试",
                "owner": "测试",
                "frequency": "按需",
                "description": "每种值类别一列",
                "columns": columns,
            }
        }
    }
    return parse_annotations(data, "config/catalog.toml")


def _policy(sensitive: Action) -> MaskingPolicy:
    rules = {(role, g): Action.CLEAR for role in ROLES for g in Grade}
    rules[("agent", Grade.SENSITIVE)] = sensitive
    rules[("agent", Grade.CORE)] = Action.HIDE
    return MaskingPolicy(rules)


@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize("action", list(Action))
def test_redactor_every_kind_under_every_action(kind: Kind, action: Action) -> None:
    redactor = Redactor(_policy(action), _annotations(), "agent")
    value = SAMPLES[kind]
    expected: object
    if kind is Kind.SECRET or action is Action.HIDE:
        expected = None
    elif action is Action.CLEAR:
        expected = value
    else:
        expected = MASKED[kind]
    assert redactor.value("sample", kind.value, value) == expected
    row = redactor.row("sample", {kind.value: value, "counted": 3})
    if expected is None:
        assert row == {"counted": 3}
    else:
        assert row == {kind.value: expected, "counted": 3}


@pytest.mark.parametrize(
    ("action", "read"),
    [
        (Action.CLEAR, ["phone", "text", "id_card", "plain"]),
        (Action.MASK, ["phone", "text", "id_card", "plain"]),
        (Action.HIDE, []),
    ],
)
def test_fields_read_lists_sensitive_and_core_fields_shown(action: Action, read: list[str]) -> None:
    # sensitive: phone, text, secret, id_card, plain; core: vault; public: counted
    columns = ["counted", "phone", "text", "secret", "id_card", "vault", "plain"]
    agent = Redactor(_policy(action), _annotations(), "agent")  # core hidden
    assert agent.fields_read("sample", columns) == read
    admin = Redactor(_policy(action), _annotations(), "admin")  # clear everywhere
    assert admin.fields_read("sample", columns) == ["phone", "text", "id_card", "vault", "plain"]


def test_redactor_refuses_unknown_role_and_field() -> None:
    with pytest.raises(ValueError, match="unknown role 'cashier'"):
        Redactor(_policy(Action.MASK), _annotations(), "cashier")
    redactor = Redactor(_policy(Action.MASK), _annotations(), "agent")
    with pytest.raises(UnknownField, match="sample.nope"):
        redactor.value("sample", "nope", "x")
    with pytest.raises(UnknownField, match="nowhere"):
        redactor.row("nowhere", {"a": 1})


# --- with the shipped catalogue and policy --------------------------------------------------

TICKET = {
    "number": "20260301-0001",
    "caller_number": "13812345678",
    "caller_name": "张三",
    "address": "朝阳区建国路88号院3号楼",
    "content": "身份证110101199003071234办理社保，电话13812345678",
    "id_card": "k1:gAAAAABciphertext",
    "id_card_hash": "9f2c",
    "enterprise_code": "91110108MA01ABCD2X",
    "repeats": 2,
}


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (
            "department",
            {
                "number": "20260301-0001",
                "caller_number": "138****5678",
                "caller_name": "张*",
                "address": "朝阳区建国路****",
                "content": "身份证110101********1234办理社保，电话138****5678",
                "enterprise_code": "91110108MA01ABCD2X",
                "repeats": 2,
            },
        ),
        (
            "auditor",
            {
                "number": "20260301-0001",
                "caller_number": "13812345678",
                "caller_name": "张三",
                "address": "朝阳区建国路88号院3号楼",
                "content": "身份证110101199003071234办理社保，电话13812345678",
                "enterprise_code": "91110108MA01ABCD2X",
                "repeats": 2,
            },
        ),
    ],
)
def test_ticket_row_by_role(role: str, expected: dict[str, object]) -> None:
    redactor = Redactor(load_policy(PROTECTION), load_annotations(CATALOG), role)
    assert redactor.row("tickets", TICKET) == expected
    assert redactor.fields_read("tickets", TICKET) == [
        "caller_number",
        "caller_name",
        "address",
        "content",
    ]


def test_every_role_of_the_policy_can_redact_every_catalogued_field() -> None:
    notes = load_annotations(CATALOG)
    policy = load_policy(PROTECTION)
    for role in ROLES:
        redactor = Redactor(policy, notes, role)
        for note in (*notes.tables.values(), *notes.configs):
            for column, field in note.fields.items():
                shown = redactor.value(note.name, column, "13812345678")
                if field.kind is Kind.SECRET:
                    assert shown is None, (role, note.name, column)
                if field.grade is Grade.PUBLIC:
                    assert shown == "13812345678", (role, note.name, column)


# --- the notes (catalog.toml) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "column", "grade", "kind"),
    [
        ("tickets", "caller_number", Grade.SENSITIVE, Kind.PHONE),
        ("tickets", "caller_name", Grade.SENSITIVE, Kind.NAME),
        ("tickets", "address", Grade.SENSITIVE, Kind.ADDRESS),
        ("tickets", "content", Grade.SENSITIVE, Kind.TEXT),
        ("tickets", "id_card", Grade.CORE, Kind.SECRET),
        ("tickets", "id_card_hash", Grade.CORE, Kind.SECRET),
        ("tickets", "enterprise_code", Grade.INTERNAL, Kind.USCC),
        ("tickets", "agent_id", Grade.INTERNAL, Kind.PLAIN),
        ("tickets", "repeats", Grade.PUBLIC, Kind.PLAIN),
        ("callbacks", "number", Grade.SENSITIVE, Kind.PHONE),
        ("surveys", "number", Grade.SENSITIVE, Kind.PHONE),
        ("calls", "caller_number", Grade.SENSITIVE, Kind.PHONE),
        ("profiles", "id_card_hash", Grade.CORE, Kind.SECRET),
        ("agents", "name", Grade.INTERNAL, Kind.NAME),
        ("knowledge_topics", "terms", Grade.PUBLIC, Kind.PLAIN),
    ],
)
def test_shipped_grades(table: str, column: str, grade: Grade, kind: Kind) -> None:
    notes = load_annotations(CATALOG)
    assert field_grade(notes, table, column) is grade
    assert field_kind(notes, table, column) is kind


def test_shipped_catalogue_lists_the_config_datasets() -> None:
    notes = load_annotations(CATALOG)
    assert {n.name for n in notes.configs} >= {"knowledge_topics", "agents", "departments"}


def _note_errors(data: dict[str, Any]) -> set[tuple[str, str]]:
    with pytest.raises(ConfigErrors) as info:
        parse_annotations(data, "config/catalog.toml")
    assert all(e.file == "config/catalog.toml" for e in info.value.errors)
    return {(e.key, e.message) for e in info.value.errors}


def test_annotation_mistakes_name_every_key() -> None:
    data = {
        "table": {
            "calls": {
                "title": "来电记录",
                "dataset": "话务",
                "owner": "",
                "frequency": "实时",
                "columns": {
                    "call_id": {"meaning": "通话标识", "grade": "secret"},
                    "did": {"meaning": "号码", "grade": "public", "kind": "digits"},
                    "node": {"grade": "public", "colour": "red"},
                },
            }
        },
        "config_dataset": [{"name": "calls", "file": "agents.toml", "key": "agent"}],
        "extra": 1,
    }
    keys = {key for key, _ in _note_errors(data)}
    assert {
        "table.calls.owner",
        "table.calls.description",
        "table.calls.columns.call_id.grade",
        "table.calls.columns.did.kind",
        "table.calls.columns.node.meaning",
        "table.calls.columns.node.colour",
        "config_dataset[0].name",
        "config_dataset[0].title",
        "config_dataset[0].fields",
        "extra",
    } <= keys


def test_load_annotations_reads_again_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "config" / "catalog.toml"
    path.parent.mkdir()
    text = CATALOG.read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    first = load_annotations(path)
    assert load_annotations(path) is first
    path.write_text(
        text.replace(
            'caller_name = { meaning = "诉求人姓名", grade = "sensitive", kind = "name" }',
            'caller_name = { meaning = "诉求人姓名", grade = "core", kind = "name" }',
        ),
        encoding="utf-8",
    )
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = load_annotations(path)
    assert second is not first
    assert field_grade(second, "tickets", "caller_name") is Grade.CORE
    assert field_grade(first, "tickets", "caller_name") is Grade.SENSITIVE
