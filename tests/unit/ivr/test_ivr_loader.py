"""The loader refuses broken menus, naming the file and the key; warnings do not refuse."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from callcenter.config_models import ConfigErrors
from callcenter.ivr_file import parse_menus
from ivr.model import HangupNode, Issue, MenuNode, RouteNode
from tests.unit.ivr.ivrdata import FILE, SKILLS, base, load

Data = dict[str, Any]
MENU = "flow.menu.node"


def node(data: Data, name: str, flow: str = "menu") -> Data:
    result: Data = data["flow"][flow]["node"][name]
    return result


def options(data: Data) -> list[Data]:
    result: list[Data] = node(data, "main")["options"]
    return result


def set_(path: str, value: Any) -> Callable[[Data], None]:
    """Set a dotted path in the parsed data (`entries.12333`, `flow.menu.node.main.timeout`)."""

    def change(data: Data) -> None:
        *parents, last = path.split(".")
        for p in parents:
            data = data[p]
        data[last] = value

    return change


def delete(path: str) -> Callable[[Data], None]:
    def change(data: Data) -> None:
        *parents, last = path.split(".")
        for p in parents:
            data = data[p]
        del data[last]

    return change


def add_option(digits: str, target: str) -> Callable[[Data], None]:
    return lambda d: options(d).append({"digits": digits, "target": target})


def announce_loop(data: Data) -> None:
    node(data, "hours")["closed"] = "hi"  # hi -> hours -> hi when closed: no input ever


def longer_loop(data: Data) -> None:
    nodes = data["flow"]["menu"]["node"]
    nodes["a1"] = {"type": "announce", "prompts": ["hi"], "next": "a2"}
    nodes["a2"] = {"type": "announce", "prompts": ["hi"], "next": "a1"}
    nodes["hi"]["next"] = "a1"


BROKEN: list[tuple[str, Callable[[Data], None], str, str]] = [
    # (id, change, key, part of the message)
    (
        "unknown target",
        set_(f"{MENU}.main.options", [{"digits": "1", "target": "nowhere"}]),
        f"{MENU}.main.options[0].target",
        "unknown node 'nowhere'",
    ),
    (
        "unknown announce next",
        set_(f"{MENU}.hi.next", "gone"),
        f"{MENU}.hi.next",
        "unknown node 'gone'",
    ),
    (
        "unknown hours target",
        set_(f"{MENU}.hours.open", "gone"),
        f"{MENU}.hours.open",
        "unknown node",
    ),
    ("unknown start", set_("flow.menu.start", "gone"), "flow.menu.start", "unknown node 'gone'"),
    (
        "unknown skill",
        set_(f"{MENU}.consult.skill", "transport"),
        f"{MENU}.consult.skill",
        "unknown skill 'transport'",
    ),
    (
        "duplicate digits",
        add_option("1", "help"),
        f"{MENU}.main.options[4].digits",
        "duplicate digits '1' (also options[0])",
    ),
    (
        "option on the operator digit",
        add_option("0", "help"),
        f"{MENU}.main.options[4].digits",
        "operator digit",
    ),
    (
        "digit outside 0-9*#",
        set_(f"{MENU}.main.options", [{"digits": "A", "target": "help"}]),
        f"{MENU}.main.options[0].digits",
        "0-9, * or #",
    ),
    (
        "operator digit outside 0-9*#",
        set_("flow.menu.operator_digit", "x"),
        "flow.menu.operator_digit",
        "0-9, * or #",
    ),
    ("allowed outside 0-9*#", set_(f"{MENU}.code.allowed", "12a"), f"{MENU}.code.allowed", "0-9"),
    (
        "option not in allowed",
        set_(f"{MENU}.code.allowed", "1"),
        f"{MENU}.code.options[1].digits",
        "not in allowed",
    ),
    (
        "option longer than max_digits",
        add_option("12", "help"),
        f"{MENU}.main.options[4].digits",
        "longer than max_digits (1)",
    ),
    (
        "prompt not defined",
        set_(f"{MENU}.main.prompts", ["menu", "nope"]),
        f"{MENU}.main.prompts[1]",
        "prompt 'nope' is not defined",
    ),
    (
        "invalid prompt not defined",
        set_(f"{MENU}.sub.invalid_prompts", "oops"),
        f"{MENU}.sub.invalid_prompts[0]",
        "not defined",
    ),
    (
        "hangup prompt not defined",
        set_(f"{MENU}.bye.prompts", ["ciao"]),
        f"{MENU}.bye.prompts[0]",
        "not defined",
    ),
    (
        "loop without input",
        announce_loop,
        f"{MENU}.hi",
        "loop without caller input: hi -> hours -> hi",
    ),
    ("longer loop", longer_loop, f"{MENU}.a1", "loop without caller input: a1 -> a2 -> a1"),
    (
        "unknown schedule",
        set_(f"{MENU}.hours.schedule", "night"),
        f"{MENU}.hours.schedule",
        "unknown schedule 'night'",
    ),
    (
        "exhausted not terminal",
        set_(f"{MENU}.sub.on_exhausted", "main"),
        f"{MENU}.sub.on_exhausted",
        "must be a route or hangup node",
    ),
    (
        "exhausted missing",
        delete("flow.menu.on_exhausted"),
        f"{MENU}.main.on_exhausted",
        "is required",
    ),
    (
        "operator not terminal",
        set_("flow.menu.operator", "main"),
        "flow.menu.operator",
        "must be a route or hangup node",
    ),
    ("operator unknown", set_("flow.menu.operator", "human"), "flow.menu.operator", "unknown node"),
    (
        "entry to unknown flow",
        set_("entries.12333", "nope"),
        "entries.12333",
        "unknown flow 'nope'",
    ),
    ("entry DID not digits", set_("entries.abc", "plain"), "entries.abc", "DID (digits only)"),
    ("no default entry", delete("entries.default"), "entries.default", "is required"),
    ("no flows", delete("flow"), "flow", "at least one flow"),
    ("unknown key", set_(f"{MENU}.main.colour", "red"), f"{MENU}.main.colour", "unknown key"),
    ("unknown top-level key", set_("menus", {}), "menus", "unknown key"),
    ("wrong type", set_(f"{MENU}.main.timeout", "5"), f"{MENU}.main.timeout", "must be a number"),
    ("boolean timeout", set_(f"{MENU}.main.timeout", True), f"{MENU}.main.timeout", "boolean"),
    (
        "retries out of range",
        set_(f"{MENU}.main.retries", 10),
        f"{MENU}.main.retries",
        "from 0 to 9",
    ),
    ("max_digits zero", set_(f"{MENU}.code.max_digits", 0), f"{MENU}.code.max_digits", "from 1"),
    (
        "unknown node type",
        set_(f"{MENU}.help.type", "voicemail"),
        f"{MENU}.help.type",
        "must be one of menu, route, hours, announce, hangup",
    ),
    ("node type missing", delete(f"{MENU}.help.type"), f"{MENU}.help.type", "is required"),
    ("menu without prompt", set_(f"{MENU}.sub.prompts", []), f"{MENU}.sub.prompts", "at least one"),
    ("menu without options", delete(f"{MENU}.sub.options"), f"{MENU}.sub.options", "array of"),
    (
        "prompt list of numbers",
        set_(f"{MENU}.sub.prompts", [1]),
        f"{MENU}.sub.prompts",
        "string or an array of strings",
    ),
    (
        "bad hours range",
        set_("schedule.office.daily", ["20:00-08:00"]),
        "schedule.office.daily[0]",
        "not a range within one day",
    ),
    (
        "bad hours text",
        set_("schedule.office.sat", ["8-12"]),
        "schedule.office.sat[0]",
        "HH:MM-HH:MM",
    ),
    (
        "bad holiday",
        set_("schedule.office.holidays", ["2026-13-01"]),
        "schedule.office.holidays[0]",
        "must be a date",
    ),
    (
        "unknown weekday",
        set_("schedule.office.monday", []),
        "schedule.office.monday",
        "unknown key",
    ),
    ("bad time zone", set_("ivr.timezone", "Mars/Olympus"), "ivr.timezone", "unknown time zone"),
    ("empty prompt text", set_("prompts.bye", " "), "prompts.bye", "must not be empty"),
    ("prompt of wrong type", set_("prompts.bye", 3), "prompts.bye", "must be the prompt's text"),
    (
        "bad node name",
        set_("flow.menu.node.9lives", {"type": "hangup"}),
        f"{MENU}.9lives",
        "node names",
    ),
    ("priority out of range", set_(f"{MENU}.help.priority", -1), f"{MENU}.help.priority", "from 0"),
]


@pytest.mark.parametrize(
    ("change", "key", "message"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_broken_config_names_file_and_key(
    change: Callable[[Data], None], key: str, message: str
) -> None:
    data = base()
    change(data)
    with pytest.raises(ConfigErrors) as info:
        parse_menus(data, FILE, SKILLS)
    errors = info.value.errors
    assert all(e.file == FILE for e in errors)
    matching = [e for e in errors if e.key == key and message in e.message]
    assert matching, "\n".join(str(e) for e in errors)


def test_every_mistake_is_reported_at_once() -> None:
    data = base()
    node(data, "consult")["skill"] = "transport"
    node(data, "main")["prompts"] = ["nope"]
    data["entries"]["12333"] = "nope"
    with pytest.raises(ConfigErrors) as info:
        parse_menus(data, FILE, SKILLS)
    keys = {e.key for e in info.value.errors}
    assert {f"{MENU}.consult.skill", f"{MENU}.main.prompts[0]", "entries.12333"} <= keys
    text = str(info.value)
    assert f"{FILE}: {MENU}.consult.skill: unknown skill 'transport'" in text
    first = info.value.errors[0]
    file, key, message = first.file, first.key, first.message
    assert file == FILE and key and message


def test_unreachable_nodes_and_unused_prompts_are_warnings() -> None:
    data = base()
    data["flow"]["menu"]["node"]["orphan"] = {"type": "route", "skill": "general"}
    data["prompts"]["unused"] = "没有用到"
    config = parse_menus(data, FILE, SKILLS)
    assert (
        Issue(FILE, f"{MENU}.orphan", "unreachable from flow.menu.start ('hi')") in config.warnings
    )
    assert Issue(FILE, "prompts.unused", "defined but never played") in config.warnings


def test_the_test_config_loads_clean() -> None:
    config = load()
    assert config.warnings == ()
    assert config.entries == {"default": "plain", "12345": "menu", "12333": "labor"}
    main = config.flows["menu"].nodes["main"]
    assert isinstance(main, MenuNode)
    assert (main.retries, main.timeout, main.max_digits, main.on_exhausted) == (2, 5.0, 1, "agent")
    assert [(o.digits, o.target, o.label) for o in main.options][:2] == [
        ("1", "consult", "咨询"),
        ("2", "sub", "投诉举报"),
    ]
    assert config.flows["plain"].nodes["queue"] == RouteNode("queue", "", 0, "queue", ())
    assert config.flows["menu"].nodes["bye"] == HangupNode("bye", ("bye",), "no_input")
    assert config.entry_for("55555")[0] == "default"
    assert config.prompt_text("bye") == "再见"


def test_recorded_prompt_file_and_weekday_hours() -> None:
    data = base()
    data["prompts"]["bye"] = {"text": "再见", "file": "prompts/bye.wav"}
    data["schedule"]["office"]["makeup_hours"] = ["09:00-17:00"]
    config = parse_menus(data, FILE, SKILLS)
    assert config.prompts["bye"].file == "prompts/bye.wav"
    office = config.schedules["office"]
    assert [str(r) for r in office.week[0]] == ["08:00-20:00"]
    assert office.week[5] == office.week[6] == ()
    assert [str(r) for r in office.makeup_hours] == ["09:00-17:00"]


def test_shape_and_reference_mistakes_come_in_one_report() -> None:
    """The model's mistakes (types, tables) and the checks across nodes in one report; a
    broken node or prompt is reported once, not again where it is referenced."""
    data = base()
    node(data, "main")["timeout"] = "5"  # main is broken: hours.open still names it
    node(data, "hi")["next"] = "gone"  # in the same flow as the broken node
    data["prompts"]["bye"] = 3  # broken: the bye node still plays it
    node(data, "queue", flow="labor")["skill"] = "transport"
    data["entries"]["12333"] = "nope"
    data["entries"]["default"] = 7
    with pytest.raises(ConfigErrors) as info:
        parse_menus(data, FILE, SKILLS)
    found = {(e.file, e.key, e.message.split(" (")[0]) for e in info.value.errors}
    assert found == {
        (FILE, f"{MENU}.main.timeout", "must be a number, got str '5'"),
        (FILE, f"{MENU}.hi.next", "unknown node 'gone'"),
        (FILE, "prompts.bye", "must be the prompt's text, or a table { text = ..., file = ... }"),
        (FILE, "flow.labor.node.queue.skill", "unknown skill 'transport'"),
        (FILE, "entries.12333", "unknown flow 'nope'"),
        (FILE, "entries.default", "must be a string, got int 7"),
    }
