"""Prometheus metrics from domain events and the runtime's live state."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from callcenter import domain
from callcenter.live_figures.metrics import Metrics, StoredCounts
from callcenter.live_figures.model import LiveFigures
from callcenter.pbx import base as pbx
from tests.unit.fakes import caller, eventually, running_runtime

NOBODY = "dialect"


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_counters_and_service_level_follow_the_calls() -> None:
    figures = LiveFigures()
    m = Metrics(figures, clock=lambda: 1000.0)
    events: list[domain.DomainEvent] = []
    for i, (reason, waited) in enumerate(
        [("answered", 4.0), ("answered", 18.0), ("answered", 40.0), ("abandoned", 25.0)]
    ):
        call = f"c{i}"
        events.append(domain.CallerJoined(call, "a", "12345", "12345", "", "138", "general", 0, 0))
        events.append(domain.CallerLeft(call, reason, waited, 1, waited))
    events.append(domain.OfferRejected("c0", "1001", "no_answer", 15.0, 1.0))
    events.append(domain.CallFinished("c0", "1001", 95.0, 100.0))
    for e in events:
        figures.apply(e)
    m.observe_stored(StoredCounts(asr_pending=3, tickets=(("accepted", 2),), overdue=1))
    found = samples(generate_latest(m.registry))
    assert found[("callcenter_callers_joined_total", (("skill", "general"),))] == 4
    assert found[("callcenter_calls_answered_total", (("skill", "general"),))] == 3
    key = ("callcenter_callers_left_total", (("reason", "abandoned"), ("skill", "general")))
    assert found[key] == 1
    assert found[("callcenter_wait_seconds_bucket", (("le", "15.0"), ("skill", "general")))] == 1
    assert found[("callcenter_wait_seconds_bucket", (("le", "20.0"), ("skill", "general")))] == 2
    assert found[("callcenter_offers_not_answered_total", (("reason", "no_answer"),))] == 1
    assert found[("callcenter_talk_seconds_sum", ())] == 95.0
    assert found[("callcenter_asr_backlog", ())] == 3
    assert found[("callcenter_tickets", (("status", "accepted"),))] == 2
    assert found[("callcenter_tickets_overdue", ())] == 1


async def test_live_state_is_read_at_scrape_time() -> None:
    figures = LiveFigures()
    m = Metrics(figures)
    async with running_runtime() as h:
        h.driver.emit(caller("w1", skill=NOBODY))
        h.driver.emit(caller("c1", did="12333", number="13900000001"))
        await eventually(lambda: len(h.driver.offers) == 1)
        h.driver.emit(pbx.AgentAnswered("a", "c1", "1002"))
        await eventually(lambda: h.runtime.acd.agent("1002").state == "on_call")
        for e in h.events:
            figures.apply(e)
        found = samples(m.exposition(h.runtime))
    assert found[("callcenter_queue_callers", (("skill", NOBODY), ("state", "waiting")))] == 1
    assert found[("callcenter_queue_longest_wait_seconds", (("skill", NOBODY),))] >= 0
    assert found[("callcenter_agents", (("state", "on_call"), ("status", "available")))] == 1
    assert found[("callcenter_pbx_up", (("node", "a"),))] == 1
    level = ("callcenter_service_level", (("skill", "labor"), ("threshold", "15")))
    assert found[level] == 1.0
    assert found[("callcenter_abandon_rate", (("skill", "labor"),))] == 0.0


def test_grafana_dashboard_queries_only_metrics_the_engine_exports() -> None:
    import json
    import re
    from pathlib import Path

    dashboard = (
        Path(__file__).resolve().parents[2] / "tools" / "grafana" / "callcenter-dashboard.json"
    )
    panels = json.loads(dashboard.read_text(encoding="utf-8"))["panels"]
    used = {
        name
        for p in panels
        for t in p["targets"]
        for name in re.findall(r"\b(callcenter_[a-z_0-9]+)", t["expr"])
    }
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    exported = {
        f.name + suffix
        for f in Metrics(LiveFigures()).registry.collect()
        for suffix in suffixes.get(f.type, ("",))
    }
    assert used and used <= exported, used - exported
