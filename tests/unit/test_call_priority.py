"""Priority and skill from the call (issue 18): what the dialplan's variables and a trusted
proxy's headers may change, and what is ignored; and the queue's priority rules."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from panoramisk.message import Message

from callcenter import domain
from callcenter.call_priority import BOOST_LIMIT, PriorityRule, caller_priority, decide
from callcenter.config import NumberEntry, Trunk, load_config
from callcenter.paths import REPO
from callcenter.pbx import base as pbx
from callcenter.pbx.asterisk.dialplan import RenderParams, render
from callcenter.pbx.asterisk.driver import AsteriskDriver
from callcenter.tomlreader import ConfigErrors
from tests.unit.fakes import SHIPPED_CONFIG, caller, eventually, running_runtime

SKILLS = {"general", "market", "labor"}
TRUSTED = {"proxy"}


def test_no_request_keeps_the_number_priority_and_skill() -> None:
    d = decide(2, "general", (), SKILLS, TRUSTED)
    assert (d.priority, d.skill, d.priority_source, d.skill_source) == (
        2, "general", "number", "number",
    )  # fmt: skip
    assert d.problems == ()


def test_dialplan_boost_adds_to_the_number_priority_and_skill_overrides() -> None:
    d = decide(2, "general", [pbx.CallRequest("dialplan", "5", "market")], SKILLS, TRUSTED)
    assert (d.priority, d.skill) == (7, "market")
    assert (d.priority_source, d.skill_source) == ("number+dialplan", "dialplan")


def test_trusted_header_and_dialplan_boosts_add_up() -> None:
    requests = [pbx.CallRequest("dialplan", "2"), pbx.CallRequest("header:proxy", "+3", "labor")]
    d = decide(0, "general", requests, SKILLS, TRUSTED)
    assert (d.priority, d.skill) == (5, "labor")
    assert (d.priority_source, d.skill_source) == ("number+dialplan+header:proxy", "header:proxy")


def test_negative_boost_lowers_the_priority() -> None:
    assert decide(3, "general", [pbx.CallRequest("dialplan", "-2")], SKILLS, TRUSTED).priority == 1


def test_header_from_a_trunk_not_marked_trusted_is_ignored() -> None:
    d = decide(0, "general", [pbx.CallRequest("header:carrier", "9", "market")], SKILLS, TRUSTED)
    assert (d.priority, d.skill, d.priority_source, d.skill_source) == (
        0, "general", "number", "number",
    )  # fmt: skip
    assert d.problems and "not a trusted trunk" in d.problems[0]


@pytest.mark.parametrize(
    "boost", ["abc", "1.5", str(BOOST_LIMIT + 1), str(-BOOST_LIMIT - 1), "9" * 40, "5x", "+"]
)
def test_bad_boost_is_reported_and_ignored(boost: str) -> None:
    d = decide(1, "general", [pbx.CallRequest("dialplan", boost)], SKILLS, TRUSTED)
    assert (d.priority, d.priority_source) == (1, "number")
    assert len(d.problems) == 1 and "priority boost" in d.problems[0]


def test_unknown_skill_is_reported_and_ignored_but_a_valid_boost_still_counts() -> None:
    d = decide(1, "general", [pbx.CallRequest("dialplan", "4", "astrology")], SKILLS, TRUSTED)
    assert (d.priority, d.skill, d.skill_source) == (5, "general", "number")
    assert d.problems == ("dialplan: unknown skill 'astrology' ignored",)


def test_unknown_source_is_ignored() -> None:
    d = decide(1, "general", [pbx.CallRequest("sms", "4", "market")], SKILLS, TRUSTED)
    assert (d.priority, d.skill) == (1, "general") and d.problems


async def test_runtime_queues_a_boosted_caller_ahead_and_records_the_source() -> None:
    """An earlier caller waits; a later one whose dialplan set a boost goes ahead of it, and
    CallerJoined says where its priority and skill came from."""
    async with running_runtime() as h:
        h.driver.emit(caller("early", number="13800000001", skill="dialect"))
        await eventually(lambda: h.stats.joined == 1)
        late = caller("late", number="13800000002", skill="dialect")
        asked = (pbx.CallRequest("dialplan", "5"),)
        h.driver.emit(pbx.CallerEntered(**{**late.__dict__, "requests": asked}))
        await eventually(lambda: h.stats.joined == 2)
        assert [v.call_id for v in h.runtime.acd.queued()] == ["late", "early"]
        joined = {e.call_id: e for e in h.of(domain.CallerJoined)}
        assert joined["late"].priority == joined["early"].priority + 5
        assert joined["late"].priority_source == "number+dialplan"
        assert joined["early"].priority_source == "number"
        # kept on the channel, so a restarted engine restores the boosted priority
        assert ("late", joined["late"].priority) in h.driver.priorities
        assert h.driver.skills == []  # the skill did not change


async def test_runtime_routes_by_the_skill_the_call_asked_for_and_keeps_it_on_the_pbx() -> None:
    """A caller of a skill nobody has, whose trusted header asks for the market specialists,
    is offered to the market specialist; the skill is kept on the channel for a restart."""
    async with running_runtime() as h:
        c = caller("c1", skill="dialect")
        asked = (pbx.CallRequest("header:proxy", "", "market"),)
        h.runtime.config = replace(
            h.runtime.config,
            trunks=(*h.runtime.config.trunks, Trunk("proxy", "inbound", trust_headers=True)),
        )
        h.driver.emit(pbx.CallerEntered(**{**c.__dict__, "requests": asked}))
        await eventually(lambda: len(h.driver.offers) == 1)
        assert h.driver.offers[0][:2] == ("c1", ("1003",))  # market 5
        (joined,) = h.of(domain.CallerJoined)
        assert (joined.skill, joined.skill_source) == ("market", "header:proxy")
        assert h.driver.skills == [("c1", "market")]


async def test_runtime_ignores_an_untrusted_header_and_a_bad_value() -> None:
    async with running_runtime() as h:
        bad = (
            pbx.CallRequest("header:carrier", "9", "market"),  # carrier is not trust_headers
            pbx.CallRequest("dialplan", "lots", "astrology"),
        )
        c = caller("c1", skill="dialect")
        h.driver.emit(pbx.CallerEntered(**{**c.__dict__, "requests": bad}))
        await eventually(lambda: h.stats.joined == 1)
        (joined,) = h.of(domain.CallerJoined)
        assert (joined.priority, joined.skill) == (0, "dialect")
        assert (joined.priority_source, joined.skill_source) == ("number", "number")


def test_shipped_trunks_trust_no_headers() -> None:
    config = load_config(REPO / "config")
    assert not [t.name for t in config.trunks if t.trust_headers]


def test_only_a_trust_headers_trunk_reads_the_headers(tmp_path: Path) -> None:
    """The PBX reads X-CC-* headers on a channel only when its endpoint sets CC_HEADERS_FROM,
    which only a trunk marked trust_headers does; the anonymous endpoint and other trunks
    never do."""
    directory = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG, directory)
    trunks = directory / "trunks.toml"
    trunks.write_text(
        trunks.read_text(encoding="utf-8")
        + '\n[[trunk]]\nname = "proxy"\nmatch = "192.0.2.10"\ntrust_headers = true\n',
        encoding="utf-8",
    )
    config = load_config(directory)
    extensions = [a.extension for a in config.agents] + [x.extension for x in config.supervisors]
    phones = {ext: "pw-long-enough" for ext in extensions}
    files = render(config, RenderParams(ami_secret="s3cret", agent_passwords=phones))
    pjsip = files["pjsip.conf"]
    assert pjsip.count("set_var = CC_HEADERS_FROM=") == 1
    proxy = pjsip.split("[proxy]\n", 1)[1].split("\n[", 1)[0]
    assert "set_var = CC_HEADERS_FROM=proxy" in proxy
    join = files["extensions.conf"].split("[cc-join]\n", 1)[1].split("\n[", 1)[0]
    # the headers are read only past the CC_HEADERS_FROM check, and reach the engine filtered
    guard = join.index('GotoIf($["${CC_HEADERS_FROM}" = ""]?join)')
    assert join.index("PJSIP_HEADER(read,X-CC-Priority-Boost)") > guard
    assert join.index("PJSIP_HEADER(read,X-CC-Skill)") > guard
    assert "HeaderFrom: ${CC_HEADERS_FROM}" in join
    assert "Boost: ${FILTER(-+.0-9A-Z_a-z,${CC_PRIORITY_BOOST})}" in join


def test_trust_headers_on_an_outbound_trunk_is_a_config_error(tmp_path: Path) -> None:
    directory = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG, directory)
    trunks = directory / "trunks.toml"
    trunks.write_text(
        trunks.read_text(encoding="utf-8")
        + '\n[[trunk]]\nname = "out"\ndirection = "outbound"\ntrust_headers = true\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigErrors, match=r"trunk\[1\]\.trust_headers"):
        load_config(directory)


def test_driver_passes_the_join_requests_on_as_raw_text() -> None:
    d = AsteriskDriver("it", "127.0.0.1", 1, "callcenter", "unused", {})
    join = (
        "Event: UserEvent\r\nChannel: PJSIP/proxy-00000001\r\nUniqueid: it-1.1\r\n"
        "Linkedid: it-1.1\r\nUserEvent: CCJoin\r\nCallId: it-1.1\r\nDid: 12345\r\n"
        "Skill: general\r\nCcPriority: 0\r\nArrived: 1795630102.360\r\nCaller: 13800000071\r\n"
        "IvrPath: \r\nBoost: 2\r\nSkillOverride: \r\nHeaderFrom: proxy\r\n"
        "HeaderBoost: 50x\r\nHeaderSkill: market"
    )
    message = Message.from_line(join)
    assert message is not None
    d._manager.dispatch(message)
    (entered,) = d.events_nowait()
    assert isinstance(entered, pbx.CallerEntered)
    assert entered.requests == (
        pbx.CallRequest("dialplan", "2", ""),
        pbx.CallRequest("header:proxy", "50x", "market"),
    )
    # no header source: header values are dropped even if present
    d2 = AsteriskDriver("it", "127.0.0.1", 1, "callcenter", "unused", {})
    message = Message.from_line(join.replace("HeaderFrom: proxy", "HeaderFrom: "))
    assert message is not None
    d2._manager.dispatch(message)
    (entered,) = d2.events_nowait()
    assert isinstance(entered, pbx.CallerEntered)
    assert entered.requests == (pbx.CallRequest("dialplan", "2", ""),)


# --- caller priority rules -------------------------------------------------------------------

PLAIN = NumberEntry("12345", skill="general")
ELDERLY_LINE = NumberEntry("12349", skill="general", priority=5)
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
