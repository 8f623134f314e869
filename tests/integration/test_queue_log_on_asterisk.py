"""The engine's queue_log against app_queue's own, for the same scenarios on the same PBX.

Each scenario happens twice with the same agents' softphones and a real SIP caller: once
through the engine (the hotline number, queue 12345) and once through Asterisk's app_queue
(a queue `qlog-compare` with the same members, reached on its own number). Then the lines of
the two calls are compared line by line: the same verbs in the same order, and every field
with the same shape and meaning (names and positions equal, times within a tolerance, the
CONNECT's agent channel id an Asterisk uniqueid that is not the caller's).
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from callcenter.masking import mask_phone
from callcenter.pbx.asterisk.dialplan import QueueSpec
from callcenter.simulation import Softphone
from tests.integration.harness import Center, wait_until

pytestmark = pytest.mark.pbx

COMPARE_QUEUE = "qlog-compare"
COMPARE_DID = "19998"
UNIQUEID = re.compile(r"^[\w-]*?\d+\.\d+$")  # Asterisk's uniqueid (systemname- first)
SECONDS = 3  # tolerance of times in whole seconds (a loaded machine)
MS = 3000  # and of ring times in milliseconds
LEAVING = ("ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY", "EXITWITHKEY")

Line = list[str]


@pytest.fixture(scope="module")
def compare(cc: Center) -> Iterator[Center]:
    """The session's Asterisk with app_queue's queue of the same agents (members named as
    the rendered cc-fallback names them), reached from the public endpoint on COMPARE_DID."""
    members = tuple(
        f"{cc.config.nodes[0].settings.dial(a.extension)},0,{a.name}" for a in cc.config.agents
    )
    spec = QueueSpec(name=COMPARE_QUEUE, members=members, strategy="linear", timeout=5, retry=1)
    local = (
        f"[cc-public]\nexten => {COMPARE_DID},1,Answer()\n"
        f" same => n,Queue({COMPARE_QUEUE},,,,120)\n same => n,Hangup()\n"
    )
    original = cc.instance
    cc.instance = dataclasses.replace(original, extra_queues=(spec,), local_dialplan=local)
    cc.instance.render(cc.config)
    cc.instance.reload()
    try:
        yield cc
    finally:
        cc.instance = original
        original.render(cc.config)
        original.reload()


def engine_log(cc: Center) -> Path:
    return Path(cc.config.storage.queue_log)


def asterisk_log(cc: Center) -> Path:
    return cc.instance.dir / "log" / "queue_log"


def lines_of(path: Path) -> list[Line]:
    if not path.exists():
        return []
    return [line.split("|") for line in path.read_text("utf-8").splitlines() if line]


def call_lines(path: Path, skip: int, queue: str, until: str, index: int = 0) -> list[Line]:
    """The lines of the call `index` (0: the first) in `queue` after the first `skip` lines,
    once its line `until` is written."""

    def found() -> list[Line] | None:
        fresh = [x for x in lines_of(path)[skip:] if len(x) > 4 and x[2] == queue]
        calls = [x[1] for x in fresh if x[4] == "ENTERQUEUE"]
        if len(calls) <= index:
            return None
        mine = [x for x in fresh if x[1] == calls[index]]
        return mine if any(x[4] == until for x in mine) else None

    got: list[Line] = wait_until(found, 90, f"the {until} line in {path.name} ({queue})")
    return got


def pause_on_app_queue(cc: Center, extensions: list[str], reason: str = "qlog") -> None:
    for ext in extensions:
        dial = cc.config.nodes[0].settings.dial(ext)
        cc.instance.cli(f"queue pause member {dial} queue {COMPARE_QUEUE} reason {reason}")


def unpause_on_app_queue(cc: Center, extensions: list[str]) -> None:
    for ext in extensions:
        dial = cc.config.nodes[0].settings.dial(ext)
        cc.instance.cli(f"queue unpause member {dial} queue {COMPARE_QUEUE}")


def only_available(cc: Center, keep: list[str]) -> list[str]:
    """Pause every other agent in the engine and in app_queue; returns the paused ones."""
    others = [a.extension for a in cc.config.agents if a.extension not in keep]
    for a in cc.config.agents:
        if a.extension in others:
            cc.engine.post(f"/api/agents/{a.id}/pause", {"reason": "qlog"})
    pause_on_app_queue(cc, others)
    return others


def both(
    cc: Center,
    number: str,
    keep: list[str],
    play: Callable[[Softphone, str, str], None],
    until: str,
) -> tuple[list[Line], list[Line]]:
    """Run `play(caller, number, did)` once through the engine and once through app_queue,
    with only the agents `keep` available; returns (engine lines, app_queue lines)."""
    paused = only_available(cc, keep)
    try:
        skip = len(lines_of(engine_log(cc)))
        caller = cc.caller(number)
        play(caller, number, "12345")
        engine = call_lines(engine_log(cc), skip, "12345", until)
        settle(cc, caller, number)
        skip = len(lines_of(asterisk_log(cc)))
        caller = cc.caller(number)
        play(caller, number, COMPARE_DID)
        app = call_lines(asterisk_log(cc), skip, COMPARE_QUEUE, until)
        settle(cc, caller, number)
    finally:
        unpause_on_app_queue(cc, paused)
    return engine, app


def settle(cc: Center, caller: Softphone, number: str) -> None:
    """End what is left of a scenario's call and wait for every agent to be idle."""
    caller.hangup(number)
    wait_until(
        lambda: all(a["state"] in ("idle", "wrap_up") for a in cc.engine.agents().values()),
        60,
        "the agents free again",
    )
    wait_until(
        lambda: "0 active calls" in cc.instance.cli("core show channels count"),
        60,
        "no call left on the PBX",
    )


def connected(phone: Softphone, user: str) -> None:
    phone.wait_for(lambda e: e.get("event") == "confirmed", 60)


def assert_same(engine: list[Line], app: list[Line], caller: str) -> None:
    """Line by line: the same verbs, and each field what app_queue means by it."""
    assert [x[4] for x in engine] == [x[4] for x in app], (engine, app)
    for ours, theirs in zip(engine, app, strict=True):
        verb = ours[4]
        assert ours[3] == theirs[3], (verb, ours, theirs)  # the agent (member name) or NONE
        assert len(ours) == len(theirs), (verb, ours, theirs)
        d, t = ours[5:], theirs[5:]
        if verb == "ENTERQUEUE":
            assert d[0] == t[0] == ""
            assert d[1] == mask_phone(t[1]) and t[1] == caller, (ours, theirs)
            assert d[2] == t[2], (ours, theirs)  # position at joining
        elif verb == "CONNECT":
            close(d[0], t[0], SECONDS, ours, theirs)  # hold time
            for fields, call_id in ((d, ours[1]), (t, theirs[1])):
                assert UNIQUEID.match(fields[1]) and fields[1] != call_id, (ours, theirs)
            close(d[2], t[2], SECONDS, ours, theirs)  # ring time
        elif verb in ("COMPLETECALLER", "COMPLETEAGENT"):
            close(d[0], t[0], SECONDS, ours, theirs)  # hold time
            close(d[1], t[1], SECONDS, ours, theirs)  # talk time
            assert d[2] == t[2], (ours, theirs)  # original position
        elif verb in ("RINGNOANSWER", "RINGCANCELED"):
            close(d[0], t[0], MS, ours, theirs)
        elif verb in LEAVING:
            assert d[:-1] == t[:-1], (ours, theirs)  # (key,) position, original position
            close(d[-1], t[-1], SECONDS, ours, theirs)  # wait
        else:
            assert d == t, (ours, theirs)


def close(ours: str, theirs: str, tolerance: int, *context: object) -> None:
    assert abs(int(ours) - int(theirs)) <= tolerance, (ours, theirs, context)


# --- scenarios ---------------------------------------------------------------------------


def test_answered_call_completed_by_the_agent(compare: Center) -> None:
    cc = compare
    agent = cc.phones["1001"]

    def play(caller: Softphone, number: str, did: str) -> None:
        answered = _events(cc, "1001", "confirmed")
        caller.call(number, did)
        connected(caller, number)
        wait_until(lambda: _events(cc, "1001", "confirmed") > answered, 90, "1001 answering")
        agent.hangup("1001")

    engine, app = both(cc, "13900000101", ["1001"], play, "COMPLETEAGENT")
    assert [x[4] for x in app] == ["ENTERQUEUE", "CONNECT", "COMPLETEAGENT"]
    assert_same(engine, app, "13900000101")


def test_answered_call_completed_by_the_caller(compare: Center) -> None:
    cc = compare

    def play(caller: Softphone, number: str, did: str) -> None:
        answered = _events(cc, "1001", "confirmed")
        caller.call(number, did)
        connected(caller, number)
        wait_until(lambda: _events(cc, "1001", "confirmed") > answered, 90, "1001 answering")
        caller.hangup(number)

    engine, app = both(cc, "13900000102", ["1001"], play, "COMPLETECALLER")
    assert [x[4] for x in app] == ["ENTERQUEUE", "CONNECT", "COMPLETECALLER"]
    assert_same(engine, app, "13900000102")


def test_caller_abandons_while_waiting(compare: Center) -> None:
    cc = compare
    for a in cc.config.agents:
        cc.engine.post(f"/api/agents/{a.id}/pause", {"reason": "qlog"})

    def play(caller: Softphone, number: str, did: str) -> None:
        caller.call(number, did)
        connected(caller, number)
        wait_until(lambda: _waiting(cc, did), 60, "the caller waiting")
        caller.hangup(number)

    everyone = [a.extension for a in cc.config.agents]
    pause_on_app_queue(cc, everyone)
    try:
        engine, app = both(cc, "13900000103", [], play, "ABANDON")
    finally:
        unpause_on_app_queue(cc, everyone)
    assert [x[4] for x in app] == ["ENTERQUEUE", "ABANDON"]
    assert_same(engine, app, "13900000103")


def test_second_caller_joins_at_position_two_and_abandons_from_there(compare: Center) -> None:
    cc = compare
    everyone = [a.extension for a in cc.config.agents]
    for a in cc.config.agents:
        cc.engine.post(f"/api/agents/{a.id}/pause", {"reason": "qlog"})
    pause_on_app_queue(cc, everyone)
    found: list[tuple[list[Line], list[Line]]] = []
    try:
        numbers = ("13900000111", "13900000112")
        for did, log, queue in (
            ("12345", engine_log(cc), "12345"),
            (COMPARE_DID, asterisk_log(cc), COMPARE_QUEUE),
        ):
            skip = len(lines_of(log))
            first, second = cc.caller(numbers[0]), cc.caller(numbers[1])
            first.call(numbers[0], did)
            call_lines(log, skip, queue, "ENTERQUEUE", 0)
            second.call(numbers[1], did)
            call_lines(log, skip, queue, "ENTERQUEUE", 1)
            second.hangup(numbers[1])
            later = call_lines(log, skip, queue, "ABANDON", 1)
            first.hangup(numbers[0])
            earlier = call_lines(log, skip, queue, "ABANDON", 0)
            found.append((earlier, later))
            settle(cc, first, numbers[0])
    finally:
        unpause_on_app_queue(cc, everyone)
    (engine_first, engine_second), (app_first, app_second) = found
    # app_queue: the second caller joined at 2 and left from 2; the first then left from 1
    assert [x[4:7] for x in app_second] == [["ENTERQUEUE", "", numbers[1]], ["ABANDON", "2", "2"]]
    assert [x[4:7] for x in app_first] == [["ENTERQUEUE", "", numbers[0]], ["ABANDON", "1", "1"]]
    assert_same(engine_second, app_second, numbers[1])
    assert_same(engine_first, app_first, numbers[0])


def test_caller_abandons_while_an_agent_rings(compare: Center) -> None:
    cc = compare
    cc.phones["1001"].answer_mode("1001", "ignore")

    def play(caller: Softphone, number: str, did: str) -> None:
        rang = _events(cc, "1001", "incoming")
        caller.call(number, did)
        connected(caller, number)
        wait_until(lambda: _events(cc, "1001", "incoming") > rang, 90, "1001 ringing")
        time.sleep(1)  # let it ring a moment (the ring time is compared within tolerance)
        caller.hangup(number)

    engine, app = both(cc, "13900000104", ["1001"], play, "ABANDON")
    assert [x[4] for x in app] == ["ENTERQUEUE", "RINGCANCELED", "ABANDON"]
    assert_same(engine, app, "13900000104")


def test_ring_no_answer_then_answered_by_the_other_agent(compare: Center) -> None:
    cc = compare
    cc.phones["1001"].answer_mode("1001", "ignore")
    agent = cc.phones["1002"]

    def play(caller: Softphone, number: str, did: str) -> None:
        answered = _events(cc, "1002", "confirmed")
        caller.call(number, did)
        connected(caller, number)
        wait_until(lambda: _events(cc, "1002", "confirmed") > answered, 90, "1002 answering")
        agent.hangup("1002")

    engine, app = both(cc, "13900000105", ["1001", "1002"], play, "COMPLETEAGENT")
    assert [x[4] for x in app] == ["ENTERQUEUE", "RINGNOANSWER", "CONNECT", "COMPLETEAGENT"]
    assert_same(engine, app, "13900000105")


def test_pause_and_unpause_with_a_reason(compare: Center) -> None:
    cc = compare
    skip_engine, skip_app = len(lines_of(engine_log(cc))), len(lines_of(asterisk_log(cc)))
    cc.engine.post("/api/agents/1003/pause", {"reason": "lunch"})
    cc.engine.post("/api/agents/1003/resume")
    pause_on_app_queue(cc, ["1003"], "lunch")
    unpause_on_app_queue(cc, ["1003"])

    name = next(a.name for a in cc.config.agents if a.id == "1003")

    def member_lines(path: Path, skip: int, queue: str) -> list[Line] | None:
        # 1003's lines from its PAUSE on: an earlier scenario's UNPAUSE lines (its agents
        # made available again) may still be arriving when this test starts
        found = [
            x
            for x in lines_of(path)[skip:]
            if len(x) > 4 and x[2] == queue and x[3] == name and x[4] in ("PAUSE", "UNPAUSE")
        ]
        while found and found[0][4] != "PAUSE":
            found.pop(0)
        return found if len(found) >= 2 else None

    engine = wait_until(lambda: member_lines(engine_log(cc), skip_engine, "12345"), 30, "")
    app = wait_until(lambda: member_lines(asterisk_log(cc), skip_app, COMPARE_QUEUE), 30, "")
    assert [x[1] for x in engine] == [x[1] for x in app] == ["NONE", "NONE"]
    assert_same(engine, app, "")
    assert engine[0][5] == "lunch"


def test_engine_start_is_a_queuestart_line(compare: Center) -> None:
    """Asterisk writes QUEUESTART when its queue log opens; the engine when it starts."""
    ours = [x for x in lines_of(engine_log(compare)) if len(x) > 4 and x[4] == "QUEUESTART"]
    theirs = [x for x in lines_of(asterisk_log(compare)) if len(x) > 4 and x[4] == "QUEUESTART"]
    assert ours and theirs
    assert ours[-1][1:] == theirs[-1][1:]


# --- PBX facts ---------------------------------------------------------------------------


def _events(cc: Center, user: str, event: str) -> int:
    """How many `event`s (incoming: rang, confirmed: answered) the agent's phone has had."""
    return len(cc.phones[user].seen(lambda e: e.get("event") == event and e.get("user") == user))


def _waiting(cc: Center, did: str) -> bool:
    if did == COMPARE_DID:
        return "(wait:" in cc.instance.cli(f"queue show {COMPARE_QUEUE}")
    return bool(cc.engine.queue())
