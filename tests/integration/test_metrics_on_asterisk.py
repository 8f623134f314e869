"""Metrics and health on the real sandbox: what /metrics says moves with the calls made."""

from __future__ import annotations

import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.harness import (
    HTTP_PORT,
    Center,
    connected,
    joined_call_id,
    known_calls,
    wait_until,
)

pytestmark = pytest.mark.pbx


def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{HTTP_PORT}/metrics", timeout=5) as r:
        text = r.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_a_waiting_caller_and_an_answered_call(cc: Center) -> None:
    assert cc.engine.get("/health/ready")["ok"] is True
    assert cc.engine.get("/health/live")["ok"] is True
    before = scrape()
    assert value(before, "callcenter_pbx_up", node="it") == 1

    cc.set_all_agents("pause", reason="meeting")
    wait_until(
        lambda: (
            value(scrape(), "callcenter_agents", status="on_break", state="idle")
            == len([a for a in cc.config.agents if not a.browser_phone])
        ),
        20,
        "every agent on a break in /metrics (the browser phone's agent is logged out)",
    )
    known = known_calls(cc)
    caller = cc.caller("13800000081")
    caller.call("13800000081", "12345")
    call_id = joined_call_id(cc, "12345", known)
    waiting = wait_until(
        lambda: value(scrape(), "callcenter_queue_callers", skill="general", state="waiting"),
        10,
        "the waiting caller in /metrics",
    )
    assert waiting == 1
    time.sleep(1)
    assert value(scrape(), "callcenter_queue_longest_wait_seconds", skill="general") >= 1
    cc.set_all_agents("resume")
    connected(cc, call_id)
    time.sleep(1)
    caller.hangup("13800000081")
    caller.wait_for(lambda e: e.get("event") == "disconnected")
    wait_until(
        lambda: (
            value(scrape(), "callcenter_talk_seconds_count")
            == value(before, "callcenter_talk_seconds_count") + 1
        ),
        20,
        "the finished call in /metrics",
    )
    after = scrape()
    for name in (
        "callcenter_callers_joined_total",
        "callcenter_calls_answered_total",
        "callcenter_wait_seconds_count",
    ):
        assert value(after, name, skill="general") == value(before, name, skill="general") + 1
    assert value(after, "callcenter_queue_callers", skill="general", state="waiting") == 0
    assert value(after, "callcenter_service_level", skill="general", threshold="20") > 0
