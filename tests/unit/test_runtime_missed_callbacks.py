"""漏接回拨 in the Runtime, driven through the fake PBX driver: a caller who left the queue
unanswered becomes a callback task (wait threshold, one per number per day, merged with a
pending queued callback, none for anonymous numbers), placed below live callers."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from acd import events as ev
from callcenter import domain
from callcenter.config import Config, load_config
from callcenter.outbound.callbacks import PendingCallback
from callcenter.outbound.policy import CallingHours, RetryPolicy
from callcenter.outbound.settings import (
    AnnounceSettings,
    CallbackSettings,
    MissedSettings,
    OutboundSettings,
)
from callcenter.pbx import base as pbx
from ivr.model import TimeRange
from tests.unit.fakes import SHIPPED_CONFIG, caller, eventually, running_runtime

LABOR_AWAY = {"1002": ("on_break", "meeting")}  # 12333's only agent is away
NUMBER = "13812345678"


def missed_config(min_wait: float = 10.0, max_wait: float = 0.0) -> Config:
    cfg = load_config(SHIPPED_CONFIG)
    outbound = OutboundSettings(
        announce=AnnounceSettings(first_after=60.0, every=60.0),
        callback=CallbackSettings(offer_when_wait_over=30.0, retry=RetryPolicy(2, (0.05,))),
        missed=MissedSettings(min_wait=min_wait),
    )
    queue = replace(cfg.queue, wrapup=0.0, max_wait=max_wait)
    return replace(cfg, outbound=outbound, queue=queue)


def waited(call_id: str, seconds: float, number: str = NUMBER) -> pbx.CallerEntered:
    """A labor-line caller who joined `seconds` ago."""
    return replace(caller(call_id, did="12333", number=number), arrived_at=time.time() - seconds)


def outcomes(h: object) -> list[tuple[str, str, str]]:
    return [(e.call_id, e.reason, e.outcome) for e in h.of(domain.MissedCall)]  # type: ignore[attr-defined]


async def test_caller_who_hung_up_after_min_wait_is_called_back_after_live_callers() -> None:
    async with running_runtime(missed_config(), agent_statuses=LABOR_AWAY) as h:
        h.driver.emit(waited("c1", 20.0))
        await eventually(lambda: len(h.runtime.acd.queued()) == 1)
        h.driver.emit(pbx.CallerGone("a", "c1"))
        await eventually(lambda: bool(h.of(domain.CallbackRequested)))
        [task] = h.of(domain.CallbackRequested)
        assert (task.call_id, task.kind, task.missed_call_id, task.reason, task.number) == (
            "missed-c1",
            "missed",
            "c1",
            "abandoned",
            NUMBER,
        )
        assert outcomes(h) == [("c1", "abandoned", "task")]
        # a live caller who comes later is still served first: the task waits below it
        h.driver.emit(caller("live", did="12333", number="13900000001"))
        await eventually(lambda: len(h.runtime.acd.queued()) == 2)
        assert [(v.call_id, v.callback, v.priority) for v in h.runtime.acd.queued()] == [
            ("live", False, 0),
            ("missed-c1", True, -100),
        ]
        await h.runtime.request(ev.AgentResumed("1002"))
        await eventually(lambda: [o[0] for o in h.driver.offers] == ["live"])
        assert h.driver.callbacks == []
        h.driver.emit(pbx.AgentAnswered("a", "live", "1002"))
        h.driver.emit(pbx.AgentLegEnded("a", "live", "1002"))
        # the agent is free: now the desk reserves it and calls the missed caller back
        await eventually(lambda: len(h.driver.callbacks) == 1)
        call, agent, _ = h.driver.callbacks[0]
        assert (call.ref, call.number, agent) == ("missed-c1", NUMBER.lstrip("+"), "1002")
        h.driver.emit(pbx.AgentAnswered("a", "missed-c1", "1002"))
        h.driver.emit(pbx.CallbackDialed("a", "missed-c1", "answered"))
        h.driver.emit(pbx.AgentLegEnded("a", "missed-c1", "1002"))
        h.driver.emit(pbx.CallbackDialed("a", "missed-c1", "ended"))
        await eventually(lambda: bool(h.of(domain.CallbackClosed)))
        assert [(e.call_id, e.outcome) for e in h.of(domain.CallbackClosed)] == [
            ("missed-c1", "completed")
        ]
        assert "missed-c1" not in h.runtime.calls and "missed-c1" not in h.runtime.callbacks


async def test_caller_who_hung_up_before_min_wait_misdialled_and_is_not_called_back() -> None:
    async with running_runtime(missed_config(min_wait=10.0), agent_statuses=LABOR_AWAY) as h:
        h.driver.emit(waited("c1", 2.0))
        await eventually(lambda: len(h.runtime.acd.queued()) == 1)
        h.driver.emit(pbx.CallerGone("a", "c1"))
        await eventually(lambda: bool(h.of(domain.MissedCall)))
        assert outcomes(h) == [("c1", "abandoned", "misdial")]
        assert h.of(domain.CallbackRequested) == [] and h.runtime.acd.queued() == []


async def test_anonymous_caller_who_hung_up_gets_no_callback_task() -> None:
    async with running_runtime(missed_config(), agent_statuses=LABOR_AWAY) as h:
        h.driver.emit(waited("c1", 20.0, number="anonymous"))
        await eventually(lambda: len(h.runtime.acd.queued()) == 1)
        h.driver.emit(pbx.CallerGone("a", "c1"))
        await eventually(lambda: bool(h.of(domain.MissedCall)))
        assert outcomes(h) == [("c1", "abandoned", "undialable")]
        assert h.of(domain.CallbackRequested) == [] and h.runtime.acd.queued() == []


async def test_caller_sent_away_at_max_wait_is_called_back_whatever_the_wait() -> None:
    async with running_runtime(missed_config(max_wait=0.2), agent_statuses=LABOR_AWAY) as h:
        h.driver.emit(caller("c1", did="12333"))
        await eventually(lambda: bool(h.of(domain.MissedCall)))
        assert outcomes(h) == [("c1", "timeout", "task")]
        assert [(v.call_id, v.callback) for v in h.runtime.acd.queued()] == [("missed-c1", True)]


async def test_one_missed_call_task_per_number_per_day() -> None:
    # storage says this number already had a task earlier today (local midnight, Shanghai)
    earlier = (
        datetime.now(ZoneInfo("Asia/Shanghai")).replace(hour=0, minute=0, second=1).timestamp()
    )
    async with running_runtime(
        missed_config(), agent_statuses=LABOR_AWAY, missed_since=[(NUMBER, earlier)]
    ) as h:
        h.driver.emit(waited("c1", 20.0))
        h.driver.emit(waited("c2", 20.0, number="13900000002"))
        await eventually(lambda: len(h.runtime.acd.queued()) == 2)
        h.driver.emit(pbx.CallerGone("a", "c1"))
        h.driver.emit(pbx.CallerGone("a", "c2"))
        await eventually(lambda: len(h.of(domain.MissedCall)) == 2)
        assert outcomes(h) == [("c1", "abandoned", "repeat"), ("c2", "abandoned", "task")]
        assert [e.call_id for e in h.of(domain.CallbackRequested)] == ["missed-c2"]


async def test_second_miss_of_a_pending_task_number_adds_no_second_call() -> None:
    async with running_runtime(missed_config(), agent_statuses=LABOR_AWAY) as h:
        for call_id in ("c1", "c2"):
            h.driver.emit(waited(call_id, 20.0))
            await eventually(lambda c=call_id: any(v.call_id == c for v in h.runtime.acd.queued()))  # type: ignore[misc]
            h.driver.emit(pbx.CallerGone("a", call_id))
            await eventually(lambda c=call_id: any(e.call_id == c for e in h.of(domain.MissedCall)))  # type: ignore[misc]
        assert outcomes(h) == [("c1", "abandoned", "task"), ("c2", "abandoned", "merged")]
        assert [v.call_id for v in h.runtime.acd.queued()] == ["missed-c1"]


async def test_missed_caller_with_a_pending_queued_callback_is_merged_into_it() -> None:
    async with running_runtime(missed_config(), agent_statuses=LABOR_AWAY) as h:
        h.driver.emit(waited("q1", 30.0))
        await eventually(lambda: len(h.runtime.acd.queued()) == 1)
        h.driver.emit(pbx.CallbackRequested("a", "q1", NUMBER))  # pressed 1
        await eventually(lambda: bool(h.of(domain.CallbackRequested)))
        h.driver.emit(waited("c2", 20.0))  # calls again meanwhile, and hangs up
        await eventually(lambda: any(v.call_id == "c2" for v in h.runtime.acd.queued()))
        h.driver.emit(pbx.CallerGone("a", "c2"))
        await eventually(lambda: bool(h.of(domain.MissedCall)))
        assert outcomes(h) == [("c2", "abandoned", "merged")]
        assert [(e.call_id, e.kind) for e in h.of(domain.CallbackRequested)] == [("q1", "queued")]
        assert [v.call_id for v in h.runtime.acd.queued()] == ["q1"]


async def test_queued_callback_taken_later_replaces_the_pending_missed_call_task() -> None:
    async with running_runtime(missed_config(), agent_statuses=LABOR_AWAY) as h:
        h.driver.emit(waited("c1", 20.0))
        await eventually(lambda: len(h.runtime.acd.queued()) == 1)
        h.driver.emit(pbx.CallerGone("a", "c1"))
        await eventually(lambda: any(v.call_id == "missed-c1" for v in h.runtime.acd.queued()))
        h.driver.emit(waited("c2", 40.0))
        await eventually(lambda: any(v.call_id == "c2" for v in h.runtime.acd.queued()))
        h.driver.emit(pbx.CallbackRequested("a", "c2", NUMBER))
        await eventually(lambda: bool(h.of(domain.CallbackClosed)))
        assert [(e.call_id, e.outcome) for e in h.of(domain.CallbackClosed)] == [
            ("missed-c1", "merged")
        ]
        assert [(v.call_id, v.callback) for v in h.runtime.acd.queued()] == [("c2", True)]
        assert "missed-c1" not in h.runtime.calls
        # the task's withdrawal is no leave of a caller
        assert [e.call_id for e in h.of(domain.CallerLeft) if e.reason == "callback"] == ["c2"]
        await h.runtime.request(ev.AgentResumed("1002"))
        await eventually(lambda: len(h.driver.callbacks) == 1)
        assert [c[0].ref for c in h.driver.callbacks] == ["c2"]  # one call to the citizen


async def test_citizen_who_calls_again_and_is_answered_closes_its_missed_call_task() -> None:
    async with running_runtime(missed_config(), agent_statuses=LABOR_AWAY) as h:
        h.driver.emit(waited("c1", 20.0))
        await eventually(lambda: len(h.runtime.acd.queued()) == 1)
        h.driver.emit(pbx.CallerGone("a", "c1"))
        await eventually(lambda: any(v.call_id == "missed-c1" for v in h.runtime.acd.queued()))
        h.driver.emit(caller("c2", did="12333", number=NUMBER))
        await eventually(lambda: any(v.call_id == "c2" for v in h.runtime.acd.queued()))
        await h.runtime.request(ev.AgentResumed("1002"))
        await eventually(lambda: [o[0] for o in h.driver.offers] == ["c2"])
        h.driver.emit(pbx.AgentAnswered("a", "c2", "1002"))
        await eventually(lambda: bool(h.of(domain.CallbackClosed)))
        assert [(e.call_id, e.outcome) for e in h.of(domain.CallbackClosed)] == [
            ("missed-c1", "returned")
        ]
        assert h.runtime.acd.queued() == [] and h.driver.callbacks == []
        assert "missed-c1" not in h.runtime.calls and "missed-c1" not in h.runtime.callbacks
        assert [e.reason for e in h.of(domain.CallerLeft) if e.call_id == "missed-c1"] == []


async def test_pending_missed_call_task_from_storage_is_queued_again_below_live_callers() -> None:
    pending = [
        PendingCallback(
            "missed-old", "a", NUMBER, "labor", -100, time.time() - 50, 0, 0.0, "missed"
        )
    ]
    async with running_runtime(
        missed_config(), agent_statuses=LABOR_AWAY, pending_callbacks=pending
    ) as h:
        h.driver.emit(caller("live", did="12333", number="13900000001"))
        await eventually(lambda: len(h.runtime.acd.queued()) == 2)
        assert [v.call_id for v in h.runtime.acd.queued()] == ["live", "missed-old"]
        # and it still merges: the same number missing again adds nothing
        h.driver.emit(pbx.CallerGone("a", "live"))
        h.driver.emit(waited("c3", 20.0))
        await eventually(lambda: any(v.call_id == "c3" for v in h.runtime.acd.queued()))
        h.driver.emit(pbx.CallerGone("a", "c3"))
        await eventually(lambda: any(e.call_id == "c3" for e in h.of(domain.MissedCall)))
        assert ("c3", "abandoned", "merged") in outcomes(h)


async def test_missed_call_task_outside_calling_hours_waits_for_the_next_opening() -> None:
    cfg = missed_config()
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    later = (now.hour + 2) % 24  # a one-hour range starting two hours from now
    hours = CallingHours((TimeRange(later * 60, later * 60 + 60),), "Asia/Shanghai")
    cfg = replace(cfg, outbound=replace(cfg.outbound, hours=hours))
    async with running_runtime(cfg, agent_statuses=LABOR_AWAY) as h:
        h.driver.emit(waited("c1", 20.0))
        await eventually(lambda: len(h.runtime.acd.queued()) == 1)
        h.driver.emit(pbx.CallerGone("a", "c1"))
        await eventually(lambda: bool(h.of(domain.CallbackScheduled)))
        [scheduled] = h.of(domain.CallbackScheduled)
        assert scheduled.call_id == "missed-c1" and scheduled.due_at == hours.next_open(time.time())
        await h.runtime.request(ev.AgentResumed("1002"))
        assert h.runtime.acd.queued() == [] and h.driver.callbacks == []  # nobody is called now
