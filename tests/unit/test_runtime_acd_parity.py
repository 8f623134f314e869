"""The runtime carries the ACD's parity behaviour through (a real Runtime, ACD and bus; only
the PBX is the fake driver): a supervisor's break stops the ring on the PBX and offers the
next agent; a named queue's offer timeout reaches the driver; announcements off per queue."""

from __future__ import annotations

import dataclasses

from acd import events as ev
from acd.model import NamedQueue
from callcenter import domain
from callcenter.config import load_config
from tests.unit.fakes import SHIPPED_CONFIG, caller, eventually, running_runtime


async def test_a_break_while_ringing_cancels_on_the_pbx_and_offers_the_next_agent() -> None:
    async with running_runtime() as h:
        h.driver.emit(caller("c1", did="12345"))
        await eventually(lambda: len(h.driver.offers) == 1)
        assert h.driver.offers[0][1] == ("1001",)
        await h.runtime.request(ev.AgentPaused("1001", "班长强制小休"))
        await eventually(lambda: len(h.driver.offers) == 2)
        assert h.driver.cancelled == [("c1", ("1001",))]
        assert h.driver.offers[1] == ("c1", ("1002",), 15.0)
        # the PBX commands go out before the step's events reach the subscribers (Bus.held)
        await eventually(lambda: len(h.of(domain.OfferCancelled)) == 1)
        cancelled = h.of(domain.OfferCancelled)
        assert [(c.call_id, c.agent_id, c.reason) for c in cancelled] == [("c1", "1001", "paused")]
        assert h.of(domain.OfferRejected) == []
        assert h.runtime.acd.agent("1001").no_answer_count == 0


async def test_a_named_queues_offer_timeout_reaches_the_driver() -> None:
    cfg = load_config(SHIPPED_CONFIG)
    labor = NamedQueue("labor", ("labor",), offer_timeout=40, wrapup=5)
    cfg = dataclasses.replace(cfg, queue=dataclasses.replace(cfg.queue, queues=(labor,)))
    async with running_runtime(cfg) as h:
        h.driver.emit(caller("c1", did="12333"))  # 人社: labor
        h.driver.emit(caller("c2", did="12345"))
        await eventually(lambda: len(h.driver.offers) == 2)
        assert sorted(h.driver.offers) == [("c1", ("1002",), 40.0), ("c2", ("1001",), 15.0)]


async def test_announcements_off_for_a_named_queue_only() -> None:
    from tests.unit.test_runtime_callbacks import NOBODY, fast

    cfg = fast()
    quiet = NamedQueue("dialect", (NOBODY,), announce=False)
    cfg = dataclasses.replace(cfg, queue=dataclasses.replace(cfg.queue, queues=(quiet,)))
    async with running_runtime(cfg) as h:
        h.driver.emit(caller("quiet", skill=NOBODY))
        h.driver.emit(caller("told", skill="enterprise"))  # no shipped agent either
        await eventually(lambda: len(h.driver.announcements) >= 3)
        assert {c for c, _, _ in h.driver.announcements} == {"told"}
