"""load_config on copies of the shipped config/: what loads, and how each mistake is reported."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import cast

import pytest

from acd.model import WideningRule
from acd.states import Strategy
from callcenter.config import (
    ConfigError,
    ConfigErrors,
    NumberEntry,
    PbxNode,
    PriorityRule,
    caller_priority,
    load_config,
)
from callcenter.pbx.asterisk.settings import AsteriskSettings
from tests.unit.fakes import SHIPPED_CONFIG


def copy_config(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG, target)
    return target


def edit(directory: Path, name: str, old: str, new: str) -> None:
    """Replace the first `old` in one file (which must contain it)."""
    path = directory / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{name} has no {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def load_errors(directory: Path) -> ConfigErrors:
    with pytest.raises(ConfigErrors) as info:
        load_config(directory)
    return info.value


# --- the shipped config ------------------------------------------------------------------------


def test_shipped_config_loads() -> None:
    config = load_config(SHIPPED_CONFIG)
    assert config.center.default_did == "12345"
    assert config.center.timezone == "Asia/Shanghai"
    assert config.number_for("12345").skill == "general"
    assert config.number_for("12333").skill == "labor"
    assert config.number_for("12349").priority == 5
    assert len(config.numbers) == 10
    assert {s.id for s in config.skills} >= {"general", "labor", "market", "dialect"}
    assert [a.id for a in config.agents] == ["1001", "1002", "1003", "1004"]
    assert dict(config.agents[0].skills) == {"general": 5, "market": 3}
    assert dict(config.agents[3].skills) == {"health": 5, "urban": 4, "legal": 4, "general": 3}
    assert all(a.login_on_start for a in config.agents)
    spec = config.agents[1].spec()
    assert (spec.id, dict(spec.skills), spec.name) == ("1002", {"general": 4, "labor": 5}, "李强")


def test_shipped_queue_policy() -> None:
    q = load_config(SHIPPED_CONFIG).queue
    assert q.strategy is Strategy.LONGEST_IDLE
    assert (q.offer_timeout, q.wrapup, q.no_answer_backoff, q.max_wait) == (15.0, 5.0, 10.0, 600.0)
    assert (q.max_no_answer, q.min_proficiency, q.random_seed) == (3, 1, 12345)
    assert q.overflow_target == ""
    assert q.leave_when_no_agents is False
    assert q.widening == (WideningRule(after=30.0, add_skills=("general",)),)
    assert (q.refusal_backoff, q.auto_pause_expires, q.auto_pause_share_alert) == (5.0, None, 0.5)


def test_shipped_nodes_rules_and_emergency() -> None:
    config = load_config(SHIPPED_CONFIG)
    settings = [n.settings for n in config.nodes]
    assert all(isinstance(s, AsteriskSettings) for s in settings)
    assert [
        (n.name, n.kind, s.ami_port, n.sip_port, s.secret_env)
        for n, s in zip(config.nodes, cast(list[AsteriskSettings], settings), strict=True)
    ] == [("a", "asterisk", 15038, 15060, "CALLCENTER_AMI_SECRET")]
    assert [(r.rule, r.boost) for r in config.priority_rules] == [
        ("repeat_caller", 3),
        ("caller_list", 5),
    ]
    assert config.lists == {"elderly": frozenset()}
    assert [e.line for e in config.emergency] == ["110", "119", "120", "122"]
    assert config.engine.fallback_after == 20.0


def test_optional_file_missing_gives_defaults(tmp_path: Path) -> None:
    directory = copy_config(tmp_path)
    (directory / "queue.toml").unlink()
    config = load_config(directory)
    assert config.queue.strategy is Strategy.LONGEST_IDLE
    assert config.queue.max_wait is None
    assert config.priority_rules == ()


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config directory not found"):
        load_config(tmp_path / "nope")


# --- broken configs: each names its file and key -------------------------------------------------

BROKEN = [
    # (file, old text, new text, key, words of the message)
    ("agents.toml", "login_on_start = true", 'login_on_start = "yes"',
     "agent[0].login_on_start", "must be true or false"),
    ("agents.toml", "general = 5, market = 3", "general = 6, market = 3",
     "agent[0].skills.general", "proficiency must be an integer 1-5, got 6"),
    ("agents.toml", "general = 5, market = 3", "general = 0, market = 3",
     "agent[0].skills.general", "got 0"),
    ("agents.toml", "general = 5, market = 3", "general = 4.5, market = 3",
     "agent[0].skills.general", "got 4.5"),
    ("agents.toml", "general = 5, market = 3", "general = 5, marketing = 3",
     "agent[0].skills.marketing", "unknown skill 'marketing'"),
    ("agents.toml", 'extension = "1002"', 'extension = "1001"',
     "agent[1].extension", "duplicate extension '1001'"),
    ("agents.toml", 'id = "1003"', 'id = "1001"', "agent[2].id", "duplicate agent id '1001'"),
    ("agents.toml", 'extension = "1004"\n', "", "agent[3].extension", "is required"),
    ("agents.toml", 'extension = "1001"', 'extension = "10-01"',
     "agent[0].extension", "digits only"),
    ("numbers.toml", 'skill = "labor"', 'skill = "labour"',
     "number[2].skill", "unknown skill 'labour'"),
    ("numbers.toml", 'did = "12315"', 'did = "123-15"', "number[1].did", "digits only"),
    ("numbers.toml", 'did = "12315"', 'did = "12345"', "number[1].did", "duplicate DID '12345'"),
    ("numbers.toml", "priority = 5", 'priority = "high"', "number[9].priority", "an integer"),
    ("numbers.toml", 'region = "市本级"', 'zone = "市本级"', "number[0].zone", "unknown key"),
    ("skills.toml", 'id = "market"', 'id = "general"', "skill[1].id", "duplicate skill"),
    ("queue.toml", 'add_skills = ["general"]', 'add_skills = ["generic"]',
     "queue.widening[0].add_skills[0]", "unknown skill 'generic'"),
    ("queue.toml", 'strategy = "longest_idle"', 'strategy = "fastest"',
     "queue.strategy", "must be one of longest_idle"),
    ("queue.toml", "offer_timeout = 15", "offer_timeout = 0", "queue.offer_timeout", "more than"),
    ("queue.toml", "wrapup = 5", "wrapup = -1", "queue.wrapup", "zero or more"),
    ("queue.toml", 'list = "elderly"', 'list = "disabled"',
     "queue.priority[1].list", "'disabled' is not defined"),
    ("queue.toml", 'rule = "repeat_caller"', 'rule = "vip"', "queue.priority[0].rule", "one of"),
    ("queue.toml", "random_seed = 12345", "random_seed = 1\nspeed = 2", "queue.speed",
     "unknown key"),
    ("queue.toml", "auto_pause_share_alert = 0.5", "auto_pause_share_alert = 50",
     "queue.auto_pause_share_alert", "share from 0 to 1"),
    ("queue.toml", "auto_pause_expires = 0", "auto_pause_expires = -60",
     "queue.auto_pause_expires", "zero or more"),
    ("queue.toml", "refusal_backoff = 5", 'refusal_backoff = "5s"',
     "queue.refusal_backoff", "must be"),
    ("center.toml", 'timezone = "Asia/Shanghai"', 'timezone = "Asia/Shanghai"\ncolour = "red"',
     "center.colour", "unknown key"),
    ("center.toml", 'default_did = "12345"', 'default_did = "10000"',
     "center.default_did", "'10000' is not in numbers.toml"),
    ("center.toml", "heartbeat_interval = 1.0", "heartbeat_interval = 30.0",
     "engine.heartbeat_interval", "shorter than engine.fallback_after"),
    ("center.toml", "restore_wait = 10", "restore_wait = 0", "engine.restore_wait", "more than"),
    ("center.toml", "ami_port = 15038", "ami_port = 70000", "pbx.nodes[0].ami_port", "port"),
    ("center.toml", "ami_port = 15038", "ami_port = true", "pbx.nodes[0].ami_port", "boolean"),
    ("center.toml", "rtp_start = 20000", "rtp_start = 21000",
     "pbx.nodes[0].rtp_start", "lower than rtp_end"),
    ("center.toml", 'kind = "asterisk"', 'kind = "yate"', "pbx.nodes[0].kind", "one of"),
    # a kind without a wing (callcenter/pbx/registry.py) is refused at load, naming the kinds
    ("center.toml", 'kind = "asterisk"', 'kind = "yate"', "pbx.nodes[0].kind",
     "must be one of asterisk, freeswitch, got 'yate'"),
    # a FreeSWITCH node's own keys are checked by its wing
    ("center.toml", 'kind = "asterisk"\nhost = "127.0.0.1"\nami_port = 15038\n'
     'ami_user = "callcenter"', 'kind = "freeswitch"\nhost = "127.0.0.1"\nesl_port = 70000',
     "pbx.nodes[0].esl_port", "port"),
    ("center.toml", 'kind = "asterisk"\nhost = "127.0.0.1"\nami_port = 15038\n'
     'ami_user = "callcenter"', 'kind = "freeswitch"\nhost = "127.0.0.1"\n'
     'agent_dial = "sofia/cc/1001"', "pbx.nodes[0].agent_dial", "{extension}"),
    ("center.toml", 'kind = "asterisk"\nhost = "127.0.0.1"\nami_port = 15038',
     'kind = "freeswitch"\nhost = "127.0.0.1"\nami_port = 15038', "pbx.nodes[0].ami_port",
     "unknown key"),
    ("center.toml", 'ami_user = "callcenter"', 'ami_user = "callcenter"\nagent_dial = "SIP/1001"',
     "pbx.nodes[0].agent_dial", "{extension}"),
    # how a phone is dialled is the node's (its kind's) business, no longer the engine's
    ("center.toml", 'fallback = "queue"', 'fallback = "queue"\nagent_dial = "PJSIP/{extension}"',
     "engine.agent_dial", "unknown key"),
    ("trunks.toml", 'line = "110"', 'line = "999"', "emergency[0].line", "one of 110"),
    ("trunks.toml", 'targets = ["PJSIP/110@emergency"]', "targets = []",
     "emergency[0].targets", "non-empty"),
    ("trunks.toml", 'direction = "inbound"', 'direction = "both"', "trunk[0].direction",
     "one of"),
    ("trunks.toml", 'match = "127.0.0.1:15098"', 'match = "carrier.example"', "trunk[0].match",
     "not an IP address, a network (address/prefix) or an address:port"),
    ("trunks.toml", 'match = "127.0.0.1:15098"', 'match = "127.0.0.1:0"', "trunk[0].match",
     "not an IP address"),
    ("trunks.toml", 'match = "127.0.0.1:15098"', 'match = ["203.0.113.0/28:5060"]',
     "trunk[0].match", "not an IP address"),
    ("trunks.toml", 'match = "127.0.0.1:15098"', "match = []", "trunk[0].match",
     "at least one source address"),
    ("trunks.toml", 'match = "127.0.0.1:15098"', "", "trunk[0].match",
     "is required for an inbound trunk"),
    ("trunks.toml", 'match = "127.0.0.1:15098"',
     'match = "127.0.0.1:15098"\nauth_user = "hotline"', "trunk[0].secret_env",
     "is required with auth_user"),
    ("trunks.toml", 'match = "127.0.0.1:15098"',
     'match = "127.0.0.1:15098"\nauth_user = "hotline"\nsecret_env = "trunk-secret"',
     "trunk[0].secret_env", "environment variable name"),
    ("center.toml", 'ami_user = "callcenter"',
     'ami_user = "callcenter"\noutbound_dial = "PJSIP/13800000000"',
     "pbx.nodes[0].outbound_dial", "{number}"),
    ("outbound.toml", 'caller_id = "12345"', 'caller_id = "12345"\ndial = "PJSIP/{number}@x"',
     "outbound.dial", "unknown key"),
    ("outbound.toml", 'calling_hours = ["08:00-21:00"]', 'calling_hours = ["21:00-08:00"]',
     "outbound.calling_hours[0]", "not a range within one day"),
    ("outbound.toml", 'calling_hours = ["08:00-21:00"]', "calling_hours = []",
     "outbound.calling_hours", "at least one range"),
    ("outbound.toml", "retry_intervals = [300, 900]", "retry_intervals = [300, -1]",
     "callback.retry_intervals", "seconds (> 0)"),
    ("outbound.toml", "max_attempts = 3\nretry_intervals = [1800",
     "max_attempts = 0\nretry_intervals = [1800",
     "survey.max_attempts", "1 or more"),
    ("outbound.toml", "per_minute = 6", "per_minute = 6\nburst = 3", "survey.burst", "unknown key"),
    ("outbound.toml", "waiting caller.\nenabled = true", "waiting caller.\nenabled = false",
     "callback.enabled", "enable [announce]"),
    ("outbound.toml", "min_wait = 10", "min_wait = -1", "missed.min_wait", "zero or more"),
    ("outbound.toml", 'reasons = ["abandoned"', 'reasons = ["hangup"', "missed.reasons",
     "abandoned, timeout, overflow, no_agents"),
    ("outbound.toml", "priority = -100", 'priority = "low"', "missed.priority", "got str"),
    ("outbound.toml", "priority = -100", "priority = -100\nlimit = 3", "missed.limit",
     "unknown key"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "old", "new", "key", "words"), BROKEN)
def test_broken_config_names_file_and_key(
    tmp_path: Path, name: str, old: str, new: str, key: str, words: str
) -> None:
    directory = copy_config(tmp_path)
    edit(directory, name, old, new)
    errors = load_errors(directory)
    matching = [e for e in errors.errors if e.key == key]
    assert matching, f"no error for {key}; got:\n{errors}"
    assert matching[0].file == f"config/{name}"
    assert words in matching[0].message
    assert f"config/{name}: {key}: " in str(errors)
    assert errors.error_id == "config.invalid"


def test_a_kind_without_a_wing_is_one_error_naming_the_kinds(tmp_path: Path) -> None:
    """kind = "yate" (no wing) with the keys such a node might have: one error at
    pbx.nodes[0].kind listing the allowed kinds, not one per key."""
    directory = copy_config(tmp_path)
    edit(directory, "center.toml", 'kind = "asterisk"', 'kind = "yate"\nyate_port = 5039')
    errors = load_errors(directory)
    assert [(e.file, e.key, e.message) for e in errors.errors] == [
        (
            "config/center.toml",
            "pbx.nodes[0].kind",
            "must be one of asterisk, freeswitch, got 'yate'",
        )
    ]


def test_trunk_match_takes_a_list_of_addresses(tmp_path: Path) -> None:
    directory = copy_config(tmp_path)
    edit(
        directory,
        "trunks.toml",
        'match = "127.0.0.1:15098"',
        'match = ["203.0.113.5", "198.51.100.0/24", "192.0.2.7:5060", "[2001:db8::1]:5060"]',
    )
    (trunk,) = load_config(directory).trunks
    assert trunk.match == "203.0.113.5, 198.51.100.0/24, 192.0.2.7:5060, [2001:db8::1]:5060"


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    directory = copy_config(tmp_path)
    edit(directory, "skills.toml", "[[skill]]", "[[skill]")
    errors = load_errors(directory)
    assert errors.errors[0].file == "config/skills.toml"
    assert errors.errors[0].key == ""
    assert str(errors).startswith("config/skills.toml: TOML syntax error")


def test_required_file_missing(tmp_path: Path) -> None:
    directory = copy_config(tmp_path)
    (directory / "agents.toml").unlink()
    errors = load_errors(directory)
    assert [str(e) for e in errors.errors] == ["config/agents.toml: required file is missing"]


def test_every_mistake_is_reported_at_once(tmp_path: Path) -> None:
    directory = copy_config(tmp_path)
    edit(directory, "agents.toml", "general = 5, market = 3", "general = 9, market = 3")
    edit(directory, "numbers.toml", 'skill = "labor"', 'skill = "labour"')
    edit(directory, "queue.toml", 'strategy = "longest_idle"', 'strategy = "fastest"')
    errors = load_errors(directory)
    found = {(e.file, e.key) for e in errors.errors}
    assert found == {
        ("config/agents.toml", "agent[0].skills.general"),
        ("config/numbers.toml", "number[2].skill"),
        ("config/queue.toml", "queue.strategy"),
    }
    assert len(str(errors).splitlines()) == 3


def test_lists_of_wrong_type_is_a_config_error(tmp_path: Path) -> None:
    directory = copy_config(tmp_path)
    edit(directory, "queue.toml", "[lists]\nelderly = []", "")
    edit(directory, "queue.toml", 'list = "elderly"', 'list = ""')
    path = directory / "queue.toml"
    path.write_text("lists = 5\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    errors = load_errors(directory)
    assert any(e.key == "lists" for e in errors.errors)


def test_empty_number_pool_is_rejected(tmp_path: Path) -> None:
    directory = copy_config(tmp_path)
    (directory / "numbers.toml").write_text("# no numbers\n", encoding="utf-8")
    errors = load_errors(directory)
    assert any((e.file, e.key) == ("config/numbers.toml", "number") for e in errors.errors), errors


# --- DIDs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("did", "known", "entry_did", "skill"),
    [
        ("12345", True, "12345", "general"),
        ("12333", True, "12333", "labor"),
        ("12358", True, "12358", "market"),
        ("99999", False, "12345", "general"),  # unknown: the default entry
        ("", False, "12345", "general"),
        ("123450", False, "12345", "general"),
    ],
)
def test_number_for(did: str, known: bool, entry_did: str, skill: str) -> None:
    config = load_config(SHIPPED_CONFIG)
    assert config.is_known_did(did) is known
    entry = config.number_for(did)
    assert (entry.did, entry.skill) == (entry_did, skill)


def test_unknown_did_uses_configured_default(tmp_path: Path) -> None:
    directory = copy_config(tmp_path)
    edit(directory, "center.toml", 'default_did = "12345"', 'default_did = "12333"')
    config = load_config(directory)
    assert config.number_for("99999").did == "12333"


# --- AMI secret ------------------------------------------------------------------------------


def test_secret_read_from_named_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_AMI_SECRET", "s3cret")
    assert PbxNode("b", settings=AsteriskSettings(secret_env="MY_AMI_SECRET")).secret() == "s3cret"


@pytest.mark.parametrize("value", [None, ""])
def test_secret_missing_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("MY_AMI_SECRET", raising=False)
    else:
        monkeypatch.setenv("MY_AMI_SECRET", value)
    with pytest.raises(ConfigError) as info:
        PbxNode("b", settings=AsteriskSettings(secret_env="MY_AMI_SECRET")).secret()
    assert info.value.file == "center.toml"
    assert info.value.key == "pbx.nodes.secret_env"
    assert "MY_AMI_SECRET" in str(info.value)
    assert "node b" in str(info.value)


def test_shipped_node_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLCENTER_AMI_SECRET", "from-env")
    assert load_config(SHIPPED_CONFIG).nodes[0].secret() == "from-env"


# --- caller priority rules -------------------------------------------------------------------

PLAIN = NumberEntry("12345", "12345", "general")
ELDERLY_LINE = NumberEntry("12349", "12349", "general", priority=5)
RULES = (
    PriorityRule("repeat_caller", boost=3, min_calls=2),
    PriorityRule("caller_list", boost=5, list="elderly"),
    PriorityRule("did", boost=1, did="12349"),
)
LISTS = {"elderly": frozenset({"13800000001"})}


@pytest.mark.parametrize(
    ("number", "caller", "recent", "expected"),
    [
        (PLAIN, "13900000000", 0, 0),
        (PLAIN, "13900000000", 1, 0),  # below min_calls
        (PLAIN, "13900000000", 2, 3),
        (PLAIN, "13800000001", 0, 5),  # on the list
        (PLAIN, "13800000001", 5, 8),  # list and repeat
        (ELDERLY_LINE, "13900000000", 0, 6),  # own 5 + did rule 1
        (ELDERLY_LINE, "13800000001", 2, 14),  # every rule matches
    ],
)
def test_caller_priority(number: NumberEntry, caller: str, recent: int, expected: int) -> None:
    assert caller_priority(number, caller, recent, RULES, LISTS) == expected


def test_caller_priority_with_shipped_rules() -> None:
    config = load_config(SHIPPED_CONFIG)
    n = config.number_for("12345")
    assert caller_priority(n, "13900000000", 0, config.priority_rules, config.lists) == 0
    assert caller_priority(n, "13900000000", 1, config.priority_rules, config.lists) == 3
