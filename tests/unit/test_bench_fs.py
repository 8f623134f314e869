"""The pure parts of tools/bench_fs.py (the engine vs mod_callcenter on FreeSWITCH): folding
channel events into the figures, the configuration it renders, and the shared table."""

from __future__ import annotations

import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

from callcenter.config import load_config
from callcenter.paths import REPO
from callcenter.pbx.freeswitch.dialplan import RenderParams, render
from callcenter.pbx.freeswitch.esl import EslEvent
from callcenter.phone_secrets import phones
from tools.bench_common import PhaseResult, served_per_second, table
from tools.bench_fs import Observation, add_bench_parts, announcements_off


def ev(name: str, at: float, uuid: str, channel: str, **headers: str) -> EslEvent:
    h = {
        "Event-Name": name,
        "Event-Date-Timestamp": str(round(at * 1_000_000)),
        "Unique-ID": uuid,
        "Channel-Name": channel,
    }
    h.update({k.replace("_", "-"): v for k, v in headers.items()})
    return EslEvent(h)


JOIN = ("CUSTOM", "cc::join")


def join(o: Observation, at: float, caller: str) -> None:
    o.see(ev("CUSTOM", at, caller, f"sofia/cc/{caller}", Event_Subclass="cc::join"), JOIN)


def ring(o: Observation, at: float, agent: str, leg: str) -> None:
    o.see(ev("CHANNEL_CREATE", at, leg, f"loopback/{agent}-a"), JOIN)
    o.see(ev("CHANNEL_CREATE", at, leg + "b", f"loopback/{agent}-b"), JOIN)


def bridge(o: Observation, at: float, caller: str, leg: str) -> None:
    o.see(
        ev(
            "CHANNEL_BRIDGE",
            at,
            caller,
            f"sofia/cc/{caller}",
            Bridge_A_Unique_ID=caller,
            Bridge_B_Unique_ID=leg,
        ),
        JOIN,
    )


def hangup(o: Observation, at: float, uuid: str, channel: str) -> None:
    o.see(ev("CHANNEL_HANGUP", at, uuid, channel), JOIN)


def test_join_ring_answer_and_the_idle_gap_while_a_caller_waits() -> None:
    o = Observation()
    join(o, 10.0, "c1")
    join(o, 10.1, "c2")  # one agent: c2 waits
    # another event on a caller leg is not its join, nor the baseline's join on this phase
    o.see(ev("CUSTOM", 9.0, "c3", "sofia/cc/c3", Event_Subclass="cc::wait"), JOIN)
    o.see(ev("CHANNEL_EXECUTE", 9.0, "c4", "sofia/cc/c4", Application="callcenter"), JOIN)
    ring(o, 10.004, "2001", "a1")
    bridge(o, 10.5, "c1", "a1")
    hangup(o, 12.5, "a1b", "loopback/2001-b")  # the agent hangs up: free, c2 waiting
    hangup(o, 12.501, "a1", "loopback/2001-a")  # its other leg: no second "free"
    hangup(o, 12.502, "c1", "sofia/cc/c1")
    ring(o, 12.75, "2001", "a2")
    bridge(o, 13.0, "c2", "a2")
    hangup(o, 15.0, "a2b", "loopback/2001-b")  # nobody waits now: no gap counted
    ring(o, 16.0, "2001", "a3")  # a ring that is no caller's (never bridged)
    hangup(o, 16.5, "a3", "loopback/2001-a")

    assert set(o.joined) == {"c1", "c2"}
    assert round(o.rang["c1"] - o.joined["c1"], 6) == 0.004
    assert round(o.rang["c2"] - o.joined["c2"], 6) == 2.65
    assert [round(g, 6) for g in o.gaps] == [0.25]
    assert set(o.answered) == {"c1", "c2"}
    assert not o.busy and not o.ringing
    assert round(served_per_second(o.joined, o.answered), 6) == round(2 / 3.0, 6)


def test_a_ringing_agent_is_for_a_waiting_caller() -> None:
    """Two callers, two agents: when 2001 hangs up while 2002 rings the only other caller,
    nobody waits for 2001, so its next gap is not counted."""
    o = Observation()
    join(o, 1.0, "c1")
    ring(o, 1.01, "2001", "a1")
    bridge(o, 1.2, "c1", "a1")
    join(o, 2.0, "c2")
    ring(o, 2.01, "2002", "a2")
    hangup(o, 2.05, "a1b", "loopback/2001-b")
    assert o.agent_free_at["2001"] == (2.05, False)
    assert o.waiting() == 0


def test_bench_parts_go_into_the_wings_rendered_files(tmp_path: Path) -> None:
    """The bench's additions land in what the wing renders today (its templates' anchors):
    mod_callcenter's bench queue with the same (loopback) agents, DID 19999 before the
    hotline's numbers, the agents' context, the 1 ms timer; and every file stays XML."""
    config = load_config(REPO / "config")
    agents = tuple(a.extension for a in config.agents)
    params = RenderParams(esl_secret="x", phone_passwords={ext: "x" for ext, _ in phones(config)})
    for name, text in render(config, params).items():
        (tmp_path / name).write_text(text)
    add_bench_parts(tmp_path, agents, 2.5)
    parsed = {p.name: ET.parse(p).getroot() for p in tmp_path.glob("*.xml")}

    conf = parsed["cc-callcenter.conf.xml"]
    queues = {q.get("name"): q for q in conf.iter("queue")}
    assert "bench@default" in queues and len(queues) >= 2  # the wing's fallback queue stays
    params_ = {p.get("name"): p.get("value") for p in queues["bench@default"].iter("param")}
    assert params_["strategy"] == "longest-idle-agent"
    rows = conf.findall(".//agents/agent")
    assert [r.get("name") for r in rows] == list(agents)
    assert rows[0].get("contact") == f"[leg_timeout=15]loopback/{agents[0]}/bench-agent"
    assert {r.get("wrap-up-time") for r in rows} == {"0"}
    bench_tiers = [t.get("agent") for t in conf.iter("tier") if t.get("queue") == "bench@default"]
    assert bench_tiers == list(agents)

    contexts = {c.get("name"): c for c in parsed["cc-dialplan.xml"].iter("context")}
    first = contexts["cc-inbound"].find("extension")
    assert first is not None and first.get("name") == "bench-mod-callcenter"
    assert [x.get("application") for x in first.iter("action")] == [
        "answer",
        "callcenter",
        "hangup",
    ]
    apps = [(x.get("application"), x.get("data")) for x in contexts["bench-agent"].iter("action")]
    assert ("playback", "tone_stream://%(2500,0,440)") in apps
    assert apps[0][1] is not None and "other_loopback_leg_uuid" in apps[0][1]

    switch = [p.get("name") for p in parsed["freeswitch.xml"].iter("param")]
    assert "1ms-timer" in switch


def test_announcements_off_in_the_shipped_outbound_config() -> None:
    text = (REPO / "config" / "outbound.toml").read_text(encoding="utf-8")
    data = tomllib.loads(announcements_off(text, "outbound.toml"))
    assert data["announce"]["enabled"] is False and data["callback"]["enabled"] is False
    assert {k: v for k, v in data.items() if k not in ("announce", "callback")} == {
        k: v for k, v in tomllib.loads(text).items() if k not in ("announce", "callback")
    }


def test_table_compares_the_engine_with_the_baseline() -> None:
    engine = PhaseResult("engine", 10, 10, [0.002, 0.004], [0.005], 2.0, 3.0, 1.0, 10, None)
    base = PhaseResult("mod_callcenter", 10, 10, [0.1, 0.2], [0.5], 1.0, 2.0, 0.0, 10, None)
    lines = table(engine, base, "mod_callcenter", "FreeSWITCH")
    assert lines[0] == "| metric | engine | mod_callcenter | engine vs mod_callcenter |"
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines[2:]}
    assert rows["join→ring p50 (ms)"].endswith("| 2.0 | 100.0 | 50.0x better |")
    assert rows["agent idle gap p50 (ms)"].endswith("| 5.0 | 500.0 | 100.0x better |")
    assert rows["calls served per second"].endswith("| 2.00 | 1.00 | 2.0x better |")
    assert rows["CPU s (FreeSWITCH + engine)"].endswith("| 4.0 | 2.0 | 2.0x worse |")
    assert rows["completed calls"].endswith("| 10 | 10 | same |")
