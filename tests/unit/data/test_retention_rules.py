"""Pure retention rules: cutoffs, what anonymising a field gives, which columns are epoch
times, and config mistakes named by file and key (refused data sets say why)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from callcenter.config_schema import schemas
from callcenter.data.retention import (
    DAY,
    VOCABULARIES,
    Condition,
    Rule,
    anonymised,
    cutoff,
    is_epoch_column,
    load_retention,
    main_retention,
    replacement,
)
from callcenter.storage.schema import Base
from callcenter.tomlreader import ConfigErrors

REPO = Path(__file__).resolve().parents[3]
NOW = 1_767_225_600.0  # 2026-01-01 00:00 UTC


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (1, NOW - DAY),
        (400, NOW - 400 * DAY),
        (1096, 1_672_531_200.0),  # 2023-01-01 00:00 UTC: 3 years with a leap day
        (1827, 1_609_372_800.0),  # 2020-12-31 00:00 UTC: 5 years, 2 leap days in between
    ],
)
def test_cutoff(days: int, expected: float) -> None:
    assert cutoff(Rule("calls", days, "delete", "joined_at"), NOW) == expected


@pytest.mark.parametrize(
    ("method", "value", "expected"),
    [
        ("blank", "13812345678", ""),
        ("blank", "张三", ""),
        ("blank", "", ""),
        ("blank", None, None),
        ("mask", "我的电话13812345678，身份证11010519491231002X", None),
        ("mask", "小区门口垃圾没人清", "小区门口垃圾没人清"),
        ("mask", "通话 17312345678901234567 已转接", "通话 17312345678901234567 已转接"),
        ("mask", "回拨 138****5678", "回拨 138****5678"),  # masked already
        ("mask", None, None),
        ("clear", '{"field": "address", "before": "幸福小区3栋502"}', "{}"),
        ("clear", "{}", "{}"),
    ],
)
def test_replacement(method: str, value: str | None, expected: str | None) -> None:
    got = replacement(method, value)
    if method == "mask" and value is not None and expected is None:
        assert got == "我的电话138****5678，身份证110105********002X"
    else:
        assert got == expected


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="scramble"):
        replacement("scramble", "x")


FIELDS = (("caller_number", "blank"), ("caller_name", "blank"), ("content", "mask"))


@pytest.mark.parametrize(
    ("row", "changes"),
    [
        (
            {"caller_number": "13812345678", "caller_name": "张三", "content": "电话13812345678"},
            {"caller_number": "", "caller_name": "", "content": "电话138****5678"},
        ),
        (
            {"caller_number": "", "caller_name": "", "content": "电话138****5678"},
            {},
        ),
        (
            {"caller_number": "", "caller_name": "李四", "content": "路灯不亮"},
            {"caller_name": ""},
        ),
        (
            {"caller_number": "", "caller_name": "", "content": "单号 17312345678901234567"},
            {},
        ),
        (
            {"caller_number": None, "caller_name": "", "content": None},
            {},
        ),
    ],
)
def test_anonymised(row: dict[str, str | None], changes: dict[str, str | None]) -> None:
    assert anonymised(FIELDS, row) == changes
    after = {**row, **changes}
    assert anonymised(FIELDS, after) == {}  # a second pass changes nothing


@pytest.mark.parametrize(
    ("table", "column", "epoch"),
    [
        ("calls", "joined_at", True),
        ("calls", "waited", False),
        ("calls", "talk_seconds", False),
        ("calls", "caller_number", False),
        ("calls", "priority", False),
        ("queue_events", "at", True),
        ("tickets", "closed_at", True),
        ("tickets", "deadline", False),
        ("transcript_segments", "start", False),
        ("profiles", "last_seen", True),
        ("recordings", "duration", False),
    ],
)
def test_is_epoch_column(table: str, column: str, epoch: bool) -> None:
    assert is_epoch_column(Base.metadata.tables[table].c[column]) is epoch


def test_the_shipped_config_loads() -> None:
    config = load_retention(REPO / "config")
    assert config.batch == 5000
    by_table = {r.dataset: r for r in config.rules}
    assert set(by_table) == {
        "queue_events",
        "change_log",
        "calls",
        "tickets",
        "transcript_segments",
        "ticket_history",
        "ticket_comments",
        "ticket_attachments",
        "surveys",
        "data_corrections",
        "quality_issues",
        "callbacks",
        "profiles",
        "inspection_findings",
    }
    assert by_table["queue_events"].days == by_table["change_log"].days == 400
    # the caller's number is ciphertext; its blind index would still link the calls
    assert by_table["calls"].fields == (("caller_number", "blank"), ("caller_number_hash", "blank"))
    tickets = by_table["tickets"]
    assert tickets.action == "anonymise"
    assert tickets.where == (Condition("status", ("closed", "revisited", "evaluated")),)
    assert ("content", "mask") in tickets.fields
    assert ("id_card", "blank") in tickets.fields
    assert by_table["transcript_segments"].linked == ("calls", "joined_at")
    assert by_table["transcript_segments"].link == "call_id"
    for name in ("ticket_comments", "surveys", "data_corrections", "quality_issues"):
        follower = by_table[name]
        assert follower.follows == tickets and follower.days == tickets.days == 1827
        assert follower.linked is None
    assert by_table["surveys"].fields == (("number", "blank"), ("number_hash", "blank"))
    assert ("caller_number_hash", "blank") in tickets.fields  # the numbers are ciphertext too
    assert ("phone_hash", "blank") in by_table["profiles"].fields
    assert by_table["callbacks"].fields == (("number", "blank"), ("number_hash", "blank"))
    assert by_table["callbacks"].days == by_table["calls"].days
    assert by_table["inspection_findings"].link == "score_id"
    assert [r.dataset for r in config.rules].count("ticket_history") == 2


GOOD = """
[[rule]]
dataset = "tickets"
days = 30
action = "anonymise"
age_field = "closed_at"
fields = { caller_number = "blank", content = "mask" }
where = { status_in = ["closed"] }
"""


def follower(**values: str) -> str:
    """GOOD, then an anonymise rule of ticket_history following it, some keys replaced."""
    keys = {
        "dataset": '"ticket_history"',
        "follows": '"tickets"',
        "link": '"ticket_id"',
        "action": '"anonymise"',
        "fields": '{ note = "mask" }',
    }
    keys.update(values)
    return GOOD + "\n[[rule]]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items() if v)


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "retention.toml").write_text(text, encoding="utf-8")
    return tmp_path


def rule(**values: str) -> str:
    """A delete rule on queue_events with some keys replaced (value "" drops the key)."""
    keys = {"dataset": '"queue_events"', "days": "10", "action": '"delete"', "age_field": '"at"'}
    keys.update(values)
    return "[[rule]]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items() if v)


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        (rule(dataset='"nonesuch"'), "rule[0].dataset", "unknown data set"),
        (rule(dataset='"data_access_log"'), "rule[0].dataset", "audit logs are kept"),
        (rule(dataset='"recording_access"'), "rule[0].dataset", "audit logs are kept"),
        (rule(dataset='"audit_log"'), "rule[0].dataset", "audit logs are kept"),
        (rule(dataset='"recordings"'), "rule[0].dataset", "callcenter recordings purge"),
        (rule(dataset='"recording_files"'), "rule[0].dataset", "callcenter recordings purge"),
        (rule(dataset='"ticket_topics"'), "rule[0].dataset", "single-column primary key"),
        (rule(days="-5"), "rule[0].days", "at least 1"),
        (rule(days="0"), "rule[0].days", "at least 1"),
        (rule(days="1.5"), "rule[0].days", "must be an integer"),
        (rule(days=""), "rule[0].days", "is required"),
        (rule(action='"archive"'), "rule[0].action", "must be one of delete, anonymise"),
        (rule(age_field='"nonesuch"'), "rule[0].age_field", "unknown column"),
        (rule(age_field='"agent_id"'), "rule[0].age_field", "not an epoch time column"),
        (
            rule(dataset='"change_log"', age_field='"calls.joined_at"'),
            "rule[0].age_field",
            "no column naming",
        ),
        (
            rule(dataset='"transcript_segments"', age_field='"start"'),
            "rule[0].age_field",
            "not an epoch time column",
        ),
        (
            rule(dataset='"transcript_segments"', age_field='"calls.waited"'),
            "rule[0].age_field",
            "not an epoch time column",
        ),
        (
            rule(dataset='"transcript_segments"', age_field='"nonesuch.at"'),
            "rule[0].age_field",
            "unknown linked table",
        ),
        (rule(fields='{ data = "blank" }'), "rule[0].fields", "only an anonymise rule"),
        (rule(action='"anonymise"'), "rule[0].fields", "is required for anonymise"),
        (rule(action='"anonymise"', fields="{}"), "rule[0].fields", "at least one field"),
        (rule(action='"anonymise"', fields='{ x = "blank" }'), "rule[0].fields.x", "unknown"),
        (
            rule(action='"anonymise"', fields='{ data = "hash" }'),
            "rule[0].fields.data",
            "must be one of blank, mask",
        ),
        (rule(action='"anonymise"', fields='{ at = "blank" }'), "rule[0].fields.at", "text"),
        (rule(action='"anonymise"', fields='{ id = "blank" }'), "rule[0].fields.id", "primary"),
        (rule(where='{ event_like = "x%" }'), "rule[0].where.event_like", "unknown condition"),
        (rule(where='{ nope_in = ["a"] }'), "rule[0].where.nope_in", "unknown column"),
        (rule(where='{ at_in = ["a"] }'), "rule[0].where.at_in", "text columns only"),
        (rule(where="{ event_in = [] }"), "rule[0].where.event_in", "non-empty array"),
        (rule(where="{ event_in = [1] }"), "rule[0].where.event_in[0]", "must be a string"),
        (rule(where='"event = 1"'), "rule[0].where", "must be a table"),
        (
            GOOD.replace('["closed"]', '["closed", "done"]'),
            "rule[0].where.status_in[1]",
            "unknown value 'done'",
        ),
        (rule(keep="true"), "rule[0].keep", "unknown key"),
        (
            rule(action='"anonymise"', fields='{ data = "clear" }', where='{ event_in = ["x"] }')
            + rule(action='"anonymise"', fields='{ data = "wipe" }'),
            "rule[1].fields.data",
            "must be one of blank, mask, clear",
        ),
        # a table's own serial id never names another table's row
        (
            rule(dataset='"quality_issues"', age_field='"quality_runs.started_at"'),
            "rule[0].age_field",
            "quality_issues has no column naming a quality_runs row: set link",
        ),
        (
            rule(dataset='"quality_issues"', age_field='"quality_runs.started_at"')
            + 'link = "nonesuch"\n',
            "rule[0].link",
            "unknown column 'nonesuch' of quality_issues",
        ),
        (rule(link='"call_id"'), "rule[0].link", "only a rule aged by a linked table"),
        (
            rule(dataset='"ticket_history"', age_field='"calls.joined_at"', link='"ticket_id"'),
            "rule[0].link",
            "'ticket_id' is a number, calls.call_id is text",
        ),
        (follower(days="30"), "rule[1].days", "is taken from the rule it follows"),
        (follower(age_field='"at"'), "rule[1].age_field", "is taken from the rule it follows"),
        (follower(link=""), "rule[1].link", "is required: set link to the column"),
        (follower(follows='"nonesuch"'), "rule[1].follows", "unknown data set"),
        (follower(follows='"audit_log"'), "rule[1].follows", "audit logs are kept"),
        (follower(follows='"ticket_history"'), "rule[1].follows", "cannot follow its own"),
        (
            follower(follows='"calls"', link='"actor"'),
            "rule[1].follows",
            "no rule of calls in this file",
        ),
        (GOOD + GOOD + follower()[len(GOOD) :], "rule[2].follows", "tickets has 2 rules"),
        (
            follower()
            + follower(
                dataset='"ticket_comments"', follows='"ticket_history"', fields='{ text = "mask" }'
            )[len(GOOD) :],
            "rule[2].follows",
            "the rule of ticket_history follows another rule itself",
        ),
        (
            rule()
            + follower(
                dataset='"ticket_comments"', follows='"queue_events"', fields='{ text = "mask" }'
            )[len(GOOD) :],
            "rule[1].follows",
            "the rule of queue_events deletes its rows",
        ),
        (
            follower(where='{ action_in = ["close", "shut"] }'),
            "rule[1].where.action_in[1]",
            "unknown value 'shut'",
        ),
        ("[retention]\nbatch = 0\n", "retention.batch", "from 1 to"),
        ("[retention]\nparallel = 2\n", "retention.parallel", "unknown key"),
        ("rule = 3\n", "rule", "array of tables"),
        ("[[rule]\n", "", "not valid TOML"),
    ],
)
def test_config_errors_name_file_and_key(tmp_path: Path, text: str, key: str, message: str) -> None:
    with pytest.raises(ConfigErrors) as caught:
        load_retention(write(tmp_path, text))
    matching = [e for e in caught.value.errors if e.key == key and message in e.message]
    assert matching, str(caught.value)
    assert all(e.file.endswith("retention.toml") for e in caught.value.errors)


def test_every_mistake_of_a_file_is_reported(tmp_path: Path) -> None:
    text = rule(days="-1") + rule(dataset='"audit_log"') + GOOD
    with pytest.raises(ConfigErrors) as caught:
        load_retention(write(tmp_path, text))
    assert [e.key for e in caught.value.errors] == ["rule[0].days", "rule[1].dataset"]


def test_a_good_rule_loads(tmp_path: Path) -> None:
    config = load_retention(write(tmp_path, GOOD))
    assert config.rules == (
        Rule(
            "tickets",
            30,
            "anonymise",
            "closed_at",
            (("caller_number", "blank"), ("content", "mask")),
            (Condition("status", ("closed",)),),
        ),
    )


def test_a_following_rule_loads(tmp_path: Path) -> None:
    config = load_retention(write(tmp_path, follower(where='{ action_in = ["correct"] }')))
    tickets, history = config.rules
    assert history == Rule(
        "ticket_history",
        30,
        "anonymise",
        "",
        (("note", "mask"),),
        (Condition("action", ("correct",)),),
        "ticket_id",
        tickets,
    )
    assert cutoff(history, NOW) == cutoff(tickets, NOW) == NOW - 30 * DAY


def test_a_rule_may_follow_one_written_after_it(tmp_path: Path) -> None:
    text = follower()
    follow, good = text[len(GOOD) :], GOOD
    history, tickets = load_retention(write(tmp_path, follow + good)).rules
    assert history.follows == tickets and history.days == 30


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigErrors, match="retention.toml: file not found"):
        load_retention(tmp_path)


def test_main_refuses_a_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, rule(dataset='"data_access_log"'))
    db = tmp_path / "never.db"
    assert main_retention(tmp_path, f"sqlite:///{db}", False, "test", None) == 2
    err = capsys.readouterr().err
    assert "保存期限配置有误" in err and "rule[0].dataset" in err
    assert not db.exists()


def test_model_and_database_mistakes_come_in_one_report(tmp_path: Path) -> None:
    """A mistake of the file's own keys does not hide what the other rules name wrongly."""
    text = (
        "[retention]\nbatch = 0\n"
        + rule(days="1.5")
        + rule(age_field='"nonesuch"')
        + follower(link="", where='{ action_in = ["shut"] }')
    )
    with pytest.raises(ConfigErrors) as caught:
        load_retention(write(tmp_path, text))
    known = VOCABULARIES[("ticket_history", "action")]
    assert [(e.key, e.message) for e in caught.value.errors] == [
        ("retention.batch", "must be from 1 to 100000"),
        ("rule[0].days", "must be an integer, got float 1.5"),
        ("rule[1].age_field", "unknown column 'nonesuch' of queue_events"),
        (
            "rule[3].link",
            "is required: set link to the column of ticket_history holding tickets.id",
        ),
        ("rule[3].where.action_in[0]", f"unknown value 'shut' (known: {', '.join(known)})"),
    ]
    assert {e.file for e in caught.value.errors} == {str(tmp_path / "retention.toml")}


def test_the_schema_says_the_keys_of_a_rule() -> None:
    schema = json.loads(schemas()["retention.schema.json"])
    assert schema["title"] == "retention.toml"
    keys = schema["$defs"]["RuleKeys"]
    assert keys["required"] == ["dataset", "action"] and keys["additionalProperties"] is False
    assert keys["properties"]["action"]["enum"] == ["delete", "anonymise"]
    assert schema["$defs"]["RetentionKeys"]["properties"]["batch"]["maximum"] == 100_000
