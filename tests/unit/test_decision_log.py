"""The decision log: the writer never blocks the routing task (a full queue drops and counts),
files by day with retention, and `explain` telling a scripted call's story that ran through
the real runtime (only the PBX is faked)."""

from __future__ import annotations

import json
import logging
import threading
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from acd import events as ev
from callcenter.decisions.log import DecisionLog, file_name, log_files
from callcenter.decisions.service import explain
from callcenter.decisions.settings import DecisionSettings, load_decision_settings
from callcenter.decisions.story import gather, tell
from callcenter.pbx import base as pbx
from callcenter.tomlreader import ConfigError
from tests.unit.fakes import caller, eventually, running_runtime

ZONE = ZoneInfo("Asia/Shanghai")


def at(day: str, hour: int = 12) -> float:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00").replace(tzinfo=ZONE).timestamp()


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def every_line(directory: Path) -> list[dict[str, object]]:
    """Every record the log wrote, its files oldest first: a `dropped` record is stamped with
    the real time, so it lands in today's file, not in the scripted day's."""
    return [record for _, path in log_files(directory) for record in lines(path)]


# --- the writer --------------------------------------------------------------------------


def test_put_never_waits_a_full_queue_drops_and_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing drains the queue (the writer not started, as if the disk stalled): `put`
    returns at once, keeps `capacity` records and counts the rest; the writer then writes
    those it kept, a `dropped` record with the count, and logs a warning."""
    log = DecisionLog(tmp_path, keep_days=3, capacity=10, zone=ZONE)
    now = at("2026-12-07")
    kept = [log.put({"at": now + i, "call": f"c{i}", "kind": "arrival"}) for i in range(25)]
    assert kept == [True] * 10 + [False] * 15
    assert log.dropped == 15
    assert log.backlog() == 10
    with caplog.at_level(logging.WARNING, logger="callcenter.decisions.log"):
        log.start()
        log.close()
    records = every_line(tmp_path)
    assert [r["call"] for r in records[:10]] == [f"c{i}" for i in range(10)]
    assert records[10]["kind"] == "dropped" and records[10]["count"] == 15
    assert "15 records dropped" in caplog.text
    assert log.written == 11


def test_put_does_not_wait_while_the_writer_is_stuck_in_a_write(tmp_path: Path) -> None:
    """The writer thread blocked inside a write (a stalled disk): the owner's puts still
    return at once and the overflow is counted."""
    gate = threading.Event()
    entered = threading.Event()
    log = DecisionLog(tmp_path, keep_days=3, capacity=5, zone=ZONE)
    real_write = log._write

    def stalled(record: dict[str, object]) -> None:
        entered.set()
        gate.wait(60)
        real_write(record)

    log._write = stalled  # type: ignore[method-assign]
    log.start()
    now = at("2026-12-07")
    log.put({"at": now, "kind": "held"})
    assert entered.wait(60)  # the writer holds the first record and waits on the "disk"
    results = [log.put({"at": now, "kind": "released"}) for _ in range(20)]
    assert results.count(True) == 5 and log.dropped == 15
    gate.set()
    log.close()
    written = every_line(tmp_path)
    # the gap is written at the end of the writer's round that noticed it
    assert [r["kind"] for r in written] == ["held"] + ["released"] * 5 + ["dropped"]
    assert written[-1]["count"] == 15


def test_one_file_a_day_and_old_days_deleted(tmp_path: Path) -> None:
    for day in ("2026-11-01", "2026-12-03", "2026-12-04"):
        (tmp_path / file_name(date.fromisoformat(day))).write_text("")
    (tmp_path / "notes.txt").write_text("not ours")
    log = DecisionLog(tmp_path, keep_days=3, capacity=100, zone=ZONE)
    log.start()
    log.put({"at": at("2026-12-05", 23), "call": "a", "kind": "arrival"})
    log.put({"at": at("2026-12-06", 0), "call": "a", "kind": "leave"})  # local midnight
    log.close()
    names = [path.name for _, path in log_files(tmp_path)]
    # today (the clock's) is later than these, so the start's purge may remove more: what the
    # new day's file opening keeps is the last 3 days up to 2026-12-06
    assert "decisions-2026-11-01.jsonl" not in names
    assert "decisions-2026-12-03.jsonl" not in names
    assert lines(tmp_path / "decisions-2026-12-05.jsonl")[0]["kind"] == "arrival"
    assert lines(tmp_path / "decisions-2026-12-06.jsonl")[0]["kind"] == "leave"
    assert (tmp_path / "notes.txt").exists()


def test_settings_file_errors_name_file_and_key(tmp_path: Path) -> None:
    assert load_decision_settings(tmp_path) == DecisionSettings()
    (tmp_path / "decisions.toml").write_text(
        '[decisions]\nkeep_days = 0\nqueue_size = "big"\ncolour = "red"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_decision_settings(tmp_path)
    text = str(caught.value)
    assert "decisions.toml: decisions.keep_days: must be 1 or more" in text
    assert "decisions.toml: decisions.queue_size: must be an integer" in text
    assert "decisions.toml: decisions.colour: unknown key" in text


def test_shipped_settings_load() -> None:
    from tests.unit.fakes import SHIPPED_CONFIG

    settings = load_decision_settings(SHIPPED_CONFIG)
    assert settings.enabled and settings.keep_days == 30 and settings.top == 5


# --- the story of a scripted call, through the real runtime ----------------------------------


async def scripted_story(tmp_path: Path) -> DecisionLog:
    """1001 on a lunch break, 1002 in wrap-up, 1003 logged out; caller c1 (general) is offered
    to 1004, which does not answer; c1 waits; 1002 ends its wrap-up early and answers."""
    log = DecisionLog(tmp_path, keep_days=30, capacity=10_000, zone=ZONE)
    log.start()
    async with running_runtime(decisions=log) as h:
        await h.runtime.request(ev.AgentPaused("1001", "lunch"))
        await h.runtime.request(ev.AgentLoggedOut("1003"))
        h.driver.emit(caller("c0", did="12333"))  # labor: 1002
        await eventually(lambda: len(h.driver.offers) == 1)
        h.driver.emit(pbx.AgentAnswered("a", "c0", "1002"))
        h.driver.emit(pbx.AgentLegEnded("a", "c0", "1002"))
        await eventually(lambda: h.runtime.acd.agent("1002").state == "wrap_up")
        h.driver.emit(caller("c1", did="12345", number="13912345678"))
        await eventually(lambda: len(h.driver.offers) == 2)
        assert h.driver.offers[1][:2] == ("c1", ("1004",))
        h.driver.emit(pbx.AgentNotAnswered("a", "c1", "1004", "no_answer"))
        await eventually(lambda: h.runtime.acd.agent("1004").state == "idle")
        await eventually(lambda: h.runtime.acd.caller("c1") is not None)
        await eventually(lambda: h.runtime.acd.caller("c1").state == "waiting")  # type: ignore[union-attr]
        await h.runtime.request(ev.AgentReady("1002"))
        await eventually(lambda: len(h.driver.offers) == 3)
        assert h.driver.offers[2][:2] == ("c1", ("1002",))
        h.driver.emit(pbx.AgentAnswered("a", "c1", "1002"))
        await eventually(lambda: h.runtime.acd.agent("1002").state == "on_call")
        h.driver.emit(pbx.AgentLegEnded("a", "c1", "1002"))
        await eventually(lambda: h.runtime.acd.agent("1002").state == "wrap_up")
    log.close()
    return log


async def test_explain_tells_the_scripted_story_and_why_the_caller_waited(
    tmp_path: Path,
) -> None:
    log = await scripted_story(tmp_path)
    assert log.dropped == 0
    own, context = gather(tmp_path, "c1", ZONE)
    kinds = [r["kind"] for r in own]
    assert kinds == [
        "arrival",
        "offer",
        "ring_ended",
        "requeue",
        "not_offered",
        "offer",
        "connect",
        "leave",
        "finish",
    ]
    text = tell("c1", own, context).text()
    assert "13912345678" not in text and "13912345678" not in (tmp_path / "x").parent.joinpath(
        log_files(tmp_path)[0][1].name
    ).read_text(encoding="utf-8")
    story = text.splitlines()
    expected_in_order = [
        "arrived: skill general, priority 0",
        "offered to 1004: the only idle agent who could take it, 1004 (skill general 3",
        "1004 did not answer",
        "back in the queue at position 1",
        "could not be offered: 1004 skipped after a ring it did not take until +",
        "1002 in wrap-up until +",
        "1001 on break (lunch)",
        "offered to 1002",
        "answered by 1002 after waiting",
        "call finished: 1002 talked",
        "Why did this caller wait",
        "1004 looked idle but was skipped after a ring it did not take until +",
        "1004 was rung",
        "and did not answer; the caller went back to the queue.",
    ]
    position = 0
    for phrase in expected_in_order:
        found = text.find(phrase, position)
        assert found >= 0, f"{phrase!r} not found after position {position} in:\n{text}"
        position = found + len(phrase)
    assert "1003" not in text  # logged out: not a reason anyone was not offered
    assert story[0].startswith("call c1 (no record in the calls table)")


async def test_the_not_offered_record_has_the_timers_until(tmp_path: Path) -> None:
    await scripted_story(tmp_path)
    own, _ = gather(tmp_path, "c1", ZONE)
    blocked = next(r for r in own if r["kind"] == "not_offered")
    by_agent = {a["agent"]: a for a in blocked["agents"]}
    assert by_agent["1002"]["why"] == "wrap_up"
    assert by_agent["1002"]["until"] == pytest.approx(blocked["at"] + 5.0, abs=1.0)  # wrapup 5
    assert by_agent["1004"]["why"] == "backing_off"
    assert by_agent["1004"]["until"] == pytest.approx(blocked["at"] + 10.0, abs=1.0)
    assert by_agent["1001"] == {"agent": "1001", "why": "on_break", "detail": "lunch"}
    offer = next(r for r in own if r["kind"] == "offer")
    assert offer["strategy"] == "longest_idle" and offer["considered"] == 1
    assert offer["candidates"] == [
        {"agent": "1004", "skill": "general", "prof": 3, "key": offer["candidates"][0]["key"]}
    ]


async def test_explain_for_an_unknown_call_is_none(tmp_path: Path) -> None:
    await scripted_story(tmp_path)
    assert explain(tmp_path, ZONE, "nobody") is None
    assert explain(None, ZONE, "nobody") is None
    story = explain(tmp_path, ZONE, "c0")
    assert story is not None
    assert "It did not wait for an agent: offered to 1002" in story.text()


def test_an_agent_given_to_a_caller_ahead_is_the_answer() -> None:
    """While c2 waited, 1002 (who has c2's skill) became free and took c1, ahead in the queue."""
    t0 = 1_000_000.0
    own = [
        {"at": t0, "call": "c2", "kind": "arrival", "skill": "general", "priority": 0},
        {
            "at": t0,
            "call": "c2",
            "kind": "not_offered",
            "skills": ["general"],
            "min_prof": 1,
            "agents": [{"agent": "1002", "why": "on_call", "detail": "c0"}],
        },
        {
            "at": t0 + 40,
            "call": "c2",
            "kind": "offer",
            "agents": ["1002"],
            "strategy": "longest_idle",
            "considered": 1,
            "candidates": [{"agent": "1002", "skill": "general", "prof": 4, "key": [t0 + 40]}],
        },
        {"at": t0 + 42, "call": "c2", "kind": "connect", "agent": "1002", "waited": 42.0},
    ]
    context = [
        {
            "at": t0 + 20,
            "call": "c1",
            "kind": "offer",
            "agents": ["1002"],
            "strategy": "longest_idle",
            "considered": 1,
            "candidates": [],
        },
        {"at": t0 + 5, "kind": "held"},
        {"at": t0 + 8, "kind": "released"},
        {"at": t0 + 30, "kind": "dropped", "count": 7},
    ]
    story = tell("c2", own, context)
    text = story.text()
    assert story.question == "Why did this caller wait 42.0s while an agent was free?"
    assert (
        "1002 became free at +20.0s and was offered caller c1 first, who was ahead in the queue"
        in text
    )
    assert "+5.0s  routing held while the queue was restored from the PBX" in text
    assert "the decision log lost 7 records here" in text
    assert "Routing was held while the queue was restored from the PBX." in text


async def test_agents_free_without_the_callers_skill_are_the_answer(tmp_path: Path) -> None:
    """Only 1002 has labor and is on a break; 1001, 1003 and 1004 sit free: the caller
    waits until it hangs up, and the answer names the free agents and what they lack."""
    from callcenter.config import load_config
    from tests.unit.fakes import SHIPPED_CONFIG

    log = DecisionLog(tmp_path, keep_days=30, capacity=10_000, zone=ZONE)
    log.start()
    async with running_runtime(decisions=log) as h:
        await h.runtime.request(ev.AgentPaused("1002", "meeting"))
        h.driver.emit(caller("c5", did="12333"))
        await eventually(lambda: h.runtime.acd.caller("c5") is not None)
        h.driver.emit(pbx.CallerGone("a", "c5"))
        await eventually(lambda: h.runtime.acd.caller("c5") is None)
    log.close()
    skills = {a.id: a.skills for a in load_config(SHIPPED_CONFIG).agents}
    story = explain(tmp_path, ZONE, "c5", agent_skills=skills)
    assert story is not None
    text = story.text()
    assert "could not be offered: 1002 on break (meeting)" in text
    assert "left the queue after" in text and "the caller hung up" in text
    for agent in ("1001", "1003", "1004"):
        assert f"{agent} was free (from -" in text or f"{agent} was free (from +" in text
        assert "but has none of this caller's skills (labor)." in text
    assert "1002 was free" not in text


async def test_widening_and_a_cancel_with_its_cause_are_logged(tmp_path: Path) -> None:
    """A caller for a skill nobody has widens to general after 0.3 s (every general agent on
    a break, so it is examined again and not offered); then 1004 comes back and is rung, and
    the caller hangs up while it rings: the cancel says why."""
    from dataclasses import replace

    from acd.model import WideningRule
    from callcenter.config import load_config
    from tests.unit.fakes import SHIPPED_CONFIG

    shipped = load_config(SHIPPED_CONFIG)
    widening = (WideningRule(after=0.3, add_skills=("general",)),)
    config = replace(shipped, queue=replace(shipped.queue, widening=widening))
    log = DecisionLog(tmp_path, keep_days=30, capacity=10_000, zone=ZONE)
    log.start()
    async with running_runtime(config, decisions=log) as h:
        for agent in ("1001", "1002", "1003", "1004"):
            await h.runtime.request(ev.AgentPaused(agent, "training"))
        h.driver.emit(caller("c7", skill="dialect"))
        await eventually(lambda: h.runtime.acd.caller("c7") is not None)

        def widened() -> bool:
            seen = h.runtime.acd.caller("c7")
            return seen is not None and "general" in seen.skills

        await eventually(widened, 60)
        await h.runtime.request(ev.AgentResumed("1004"))
        await eventually(lambda: len(h.driver.offers) == 1)
        h.driver.emit(pbx.CallerGone("a", "c7"))
        await eventually(lambda: h.runtime.acd.caller("c7") is None)
    log.close()
    own, _ = gather(tmp_path, "c7", ZONE)
    kinds = [r["kind"] for r in own]
    assert kinds == [
        "arrival",
        "not_offered",
        "widen",
        "not_offered",
        "offer",
        "cancel",
        "leave",
    ]
    assert own[1]["skills"] == ["dialect"] and own[1]["agents"] == []
    assert own[2]["skills"] == ["dialect", "general"] and own[2]["step"] == 1
    assert [a["why"] for a in own[3]["agents"]] == ["on_break"] * 4
    assert own[5]["cause"] == "caller_hung_up" and own[5]["agents"] == ["1004"]
    assert own[6]["reason"] == "abandoned"
    text = tell("c7", own, []).text()
    assert "could not be offered: no agent with skill dialect logged in" in text
    assert "widened (step 1): now skills dialect, general" in text
    assert "ring to 1004 cancelled: the caller hung up" in text
    assert "left the queue after" in text


def test_a_boost_the_call_brought_is_named_by_where_it_came_from() -> None:
    from callcenter.config import load_config
    from callcenter.decisions.recorder import priority_sources

    config = load_config(Path(__file__).resolve().parents[2] / "config")
    did = config.numbers[0].did
    own = config.number_for(did).priority
    plain = priority_sources(config, did, "13800000000", own + 7)
    assert plain[-1] == ("set on the call", 7)
    named = priority_sources(config, did, "13800000000", own + 7, "number+header:proxy")
    assert named[-1] == ("set on the call (header:proxy)", 7)
