"""The runtime wires agents' phones through: reachability from the PBX, refusals recorded as
refusals with their SIP response, the auto-pause alert on the bus, in /metrics and on the
wallboard (a real Runtime, ACD and bus; only the PBX is the fake driver)."""

from __future__ import annotations

import dataclasses

from aiohttp.test_utils import TestClient, TestServer

from callcenter import domain
from callcenter.api.http import build_app
from callcenter.config import load_config
from callcenter.live_figures.metrics import Metrics
from callcenter.live_figures.wallboard import snapshot
from callcenter.pbx import base as pbx
from tests.unit.fakes import SHIPPED_CONFIG, caller, eventually, running_runtime, settle


async def test_an_unreachable_agent_is_not_offered_and_comes_back_when_reachable() -> None:
    async with running_runtime() as h:
        h.driver.emit(pbx.AgentContact("a", "1001", False, "unreachable"))
        await eventually(lambda: not h.runtime.acd.agent("1001").reachable)
        h.driver.emit(caller("c1", did="12345"))
        await eventually(lambda: len(h.driver.offers) == 1)
        assert h.driver.offers == [("c1", ("1002",), 15.0)]  # 1001 (general 5) skipped
        h.driver.emit(pbx.AgentContact("a", "1001", True, "reachable"))
        await eventually(lambda: h.runtime.acd.agent("1001").reachable)


async def test_agents_phones_are_asked_for_when_the_link_comes_up() -> None:
    cfg = load_config(SHIPPED_CONFIG)
    async with running_runtime(cfg) as h:
        await eventually(lambda: h.runtime.link_up["a"])
        h.driver.contacts_result = [pbx.AgentContact("a", "1001", False, "unregistered")]
        h.driver.emit(pbx.LinkUp("a"))  # a reconnect: the runtime asks again
        await eventually(lambda: not h.runtime.acd.agent("1001").reachable)


async def test_a_refusal_is_recorded_as_refused_with_its_sip_response() -> None:
    async with running_runtime() as h:
        h.driver.emit(caller("c1", did="12345"))
        await eventually(lambda: len(h.driver.offers) == 1)
        h.driver.emit(pbx.AgentNotAnswered("a", "c1", "1001", "refused", 488))
        await eventually(lambda: len(h.driver.offers) == 2)
        assert h.driver.offers[1] == ("c1", ("1002",), 15.0)  # on to the next agent at once
        rejected = h.of(domain.OfferRejected)
        assert [(r.agent_id, r.reason, r.cause) for r in rejected] == [("1001", "refused", 488)]
        assert h.runtime.acd.agent("1001").no_answer_count == 0


async def test_auto_pause_alert_on_the_bus_in_metrics_and_on_the_wallboard() -> None:
    cfg = load_config(SHIPPED_CONFIG)
    queue = dataclasses.replace(
        cfg.queue, max_no_answer=1, no_answer_backoff=0, auto_pause_share_alert=0.5
    )
    cfg = dataclasses.replace(cfg, queue=queue)
    async with running_runtime(cfg) as h:
        metrics = Metrics(h.stats)
        for n, agent in enumerate(("1001", "1002", "1004")):
            h.driver.emit(caller(f"c{n}", did="12345"))
            await eventually(lambda: any(o[1] == (agent,) for o in h.driver.offers))  # noqa: B023
            h.driver.emit(pbx.AgentNotAnswered("a", f"c{n}", agent, "no_answer"))
            await eventually(lambda: h.runtime.acd.agent(agent).status == "on_break")  # noqa: B023
            h.driver.emit(pbx.CallerGone("a", f"c{n}"))
        await settle()
        alerts = h.of(domain.AutoPauseAlert)
        assert [(a.active, a.auto_paused, a.logged_in) for a in alerts] == [(True, 3, 4)]
        text = metrics.exposition(h.runtime).decode()
        assert "callcenter_auto_pause_alert 1.0" in text
        assert "callcenter_agents_auto_paused 3.0" in text
        board = snapshot(h.stats, h.runtime, 0.0)
        assert board["auto_pause"] == {"alert": True, "paused": 3, "logged_in": 4}


async def test_the_agents_api_says_whose_phone_is_unreachable() -> None:
    async with running_runtime() as h:
        h.driver.emit(pbx.AgentContact("a", "1003", False, "unregistered"))
        await eventually(lambda: not h.runtime.acd.agent("1003").reachable)
        app = build_app(h.runtime, h.stats, open_loopback=True)
        async with TestClient(TestServer(app)) as client, client.get("/api/agents") as r:
            body = await r.json()
        assert {a["agent_id"]: a["reachable"] for a in body["agents"]} == {
            "1001": True,
            "1002": True,
            "1003": False,
            "1004": True,
        }
