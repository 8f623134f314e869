"""Benchmark (b′): end to end on the sandbox FreeSWITCH, the engine against FreeSWITCH's own
mod_callcenter on the same agents and the same sipp load, in one run.

The FreeSWITCH analogue of tools/bench_e2e.py (the engine against Asterisk's app_queue): one
private FreeSWITCH, configured by the wing from the bench's config/ plus the bench's own parts;
agents are loopback endpoints (`loopback/2001/bench-agent`) that answer, talk a fixed time with
audio (a tone) and hang up, dialled the same way by both queues so they ring exactly the same
seats; callers are sipp UACs sending real SIP and A-law RTP, offered faster than the agents
can serve so callers wait. Phase 1 dials 12345 (the
engine's queue, engine in its own process, a `kind = "freeswitch"` node); phase 2 dials 19999,
which enters mod_callcenter's queue `bench` (strategy longest-idle-agent, wrap-up 0, every
delay 0) with the engine stopped. An event-socket observer timestamps every event with
FreeSWITCH's own event time (Event-Date-Timestamp, µs).

Figures per phase, as bench_e2e: completed calls; caller join (the caller leg starts the
queue's application `callcenter`; for the engine, the dialplan's CUSTOM cc::join) → ring (the
agent leg's CHANNEL_CREATE) p50/p99; agent idle gap between calls while callers wait (the
agent's first leg hung up → its next leg created) p50/p99; calls served per second; CPU seconds of
FreeSWITCH and of the engine; then engine/mod_callcenter ratios.

    python tools/bench_fs.py                        # 20 agents, 2 s talk, 240 calls at 12/s
    python tools/bench_fs.py --agents 10 --calls 60 --rate 6 --only heavy
    python tools/bench_fs.py --baseline-only        # mod_callcenter alone (no engine phase)

Ports: the integration slot's bands (CALLCENTER_IT_SLOT, tests/integration/ports.py, as the
test harness); in slot 0 SIP 25050, ESL 25051, engine HTTP 25052, sipp 25053-25056 (RTP
25330/25340), FreeSWITCH RTP 26000-26999 (the harness Asterisk's range: not while the slot's
tests run; 400 ports in slots 1-4).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callcenter.config import Config, load_config  # noqa: E402
from callcenter.paths import REPO  # noqa: E402
from callcenter.pbx.freeswitch.esl import EslEvent  # noqa: E402
from callcenter.pbx.freeswitch.sandbox import Instance, ensure_root  # noqa: E402
from callcenter.pbx.freeswitch.wing import instance_for  # noqa: E402
from callcenter.simulation import Sipp  # noqa: E402
from tests.integration.ports import BANDS, CONTROL, SLOT  # noqa: E402
from tools.bench_common import (  # noqa: E402
    QUEUE_TOML,
    EngineProcess,
    PhaseResult,
    agents_toml,
    cpu_seconds,
    served_per_second,
    table,
)

SIP, ESL, HTTP, SIPP = CONTROL + 50, CONTROL + 51, CONTROL + 52, CONTROL + 53
SIPP_RTP = CONTROL + 330
# the harness Asterisk's range (not while the slot's tests run): 1000 ports in slot 0, 400 in
# the others
RTP = (BANDS["rtp"].start, BANDS["rtp"].stop - 1)
ENGINE_DID, BASELINE_DID = "12345", "19999"
QUEUE = "bench"
AGENT_CONTEXT = "bench-agent"
# both queues dial an agent straight as its loopback (as bench_e2e's Local channels: no
# registration to follow)
AGENT_DIAL = f"loopback/{{extension}}/{AGENT_CONTEXT}"
NODE = f"bench-fs{SLOT}"  # the node, and the sandbox instance's name
SECRET_ENV = "CALLCENTER_ESL_SECRET"
WORK = REPO / "var" / f"bench-fs{SLOT}"

# a caller's join: the dialplan tells the engine (CUSTOM cc::join, the wing's cc-join), or the
# caller leg starts mod_callcenter's application
JOINS = {ENGINE_DID: ("CUSTOM", "cc::join"), BASELINE_DID: ("CHANNEL_EXECUTE", "callcenter")}
# (FreeSWITCH reads every word after CUSTOM as a subclass: CUSTOM goes last)
EVENTS = ("CHANNEL_CREATE CHANNEL_EXECUTE CHANNEL_BRIDGE CHANNEL_HANGUP CUSTOM cc::join",)
ONE_MS_TIMER = '<param name="1ms-timer" value="true"/>\n'
_AGENT_LEG = re.compile(r"^loopback/(\d+)-([ab])$")


# --- FreeSWITCH configuration ---------------------------------------------------------------
# The center's FreeSWITCH configuration is rendered from the bench's config/ by the wing, as
# for any node (callcenter/pbx/freeswitch/dialplan.py); the bench then adds its own parts to
# the rendered files. Each addition is anchored on a line of the wing's templates, and a
# missing anchor stops the run naming the file.


def extensions(count: int) -> tuple[str, ...]:
    return tuple(str(2001 + i) for i in range(count))


def insert(text: str, anchor: str, addition: str, where: str, after: bool = False) -> str:
    """`addition` before (or after) the first `anchor` in `text` (a rendered file `where`)."""
    at = text.find(anchor)
    if at < 0:
        raise SystemExit(f"{where}: no {anchor!r} to add the benchmark's part at")
    if after:
        at += len(anchor)
    return text[:at] + addition + text[at:]


def agent_context(talk: float) -> str:
    """The agents: the loopback's b leg answers, talks `talk` s (a 440 Hz tone, so RTP flows
    to the caller through the a leg) and hangs up.

    mod_callcenter, handed a loopback agent, waits up to 5 s for the b leg to be bridged to a
    "real" phone and hangs up when it is not (mod_callcenter.c, "Search for loopback agent");
    these agents are the phone, so the b leg first removes the a leg's pointer to it
    (other_loopback_leg_uuid) before answering: mod_callcenter then bridges the caller to the
    a leg like any phone's channel (the engine's driver does not look)."""
    ms = int(talk * 1000)
    a = quoteattr
    actions = [
        (
            "set",
            "cc_bench_unlinked=${uuid_setvar(${other_loopback_leg_uuid} other_loopback_leg_uuid)}",
        ),
        ("set", "playback_terminators=none"),
        ("answer", ""),
        ("playback", f"tone_stream://%({ms},0,440)"),
        ("hangup", ""),
    ]
    body = "".join(f"<action application={a(app)} data={a(data)}/>" for app, data in actions)
    return (
        f"<context name={a(AGENT_CONTEXT)}><extension name='agent'>"
        f"<condition field='destination_number' expression='^(\\d+)$'>{body}"
        f"</condition></extension></context>\n"
    )


def baseline_dialplan() -> str:
    """DID 19999 enters mod_callcenter's queue (tried before the hotline's numbers)."""
    a = quoteattr
    actions = [("answer", ""), ("callcenter", f"{QUEUE}@default"), ("hangup", "")]
    body = "".join(f"<action application={a(app)} data={a(data)}/>" for app, data in actions)
    return (
        f"\n<extension name='bench-mod-callcenter'><condition field='destination_number' "
        f"expression='^{BASELINE_DID}$'>{body}</condition></extension>"
    )


def baseline_queue() -> str:
    """mod_callcenter's queue `bench`: longest idle agent first."""
    a = quoteattr
    queue = {
        "strategy": "longest-idle-agent",
        "moh-sound": "local_stream://moh",
        "time-base-score": "system",
        "max-wait-time": 0,
        "max-wait-time-with-no-agent": 0,
        "max-wait-time-with-no-agent-time-reached": 5,
        "tier-rules-apply": "false",
        "discard-abandoned-after": 60,
        "abandoned-resume-allowed": "false",
    }
    params = "".join(f"<param name={a(k)} value={a(str(v))}/>" for k, v in queue.items())
    return f"<queue name={a(QUEUE + '@default')}>{params}</queue>\n"


def baseline_agents(agents: tuple[str, ...], offer_timeout: int = 15) -> str:
    """The same agents as the engine's, dialled as the engine dials them (AGENT_DIAL), no
    wrap-up and no delays, each in the bench queue."""
    a = quoteattr
    rows = "".join(
        f"<agent name={a(ext)} type='callback' "
        f"contact={a(f'[leg_timeout={offer_timeout}]' + AGENT_DIAL.format(extension=ext))} "
        "status='Available' "
        "max-no-answer='3' wrap-up-time='0' reject-delay-time='0' busy-delay-time='0' "
        "no-answer-delay-time='0'/>\n"
        for ext in agents
    )
    return f"<agents>\n{rows}</agents>"


def baseline_tiers(agents: tuple[str, ...]) -> str:
    a = quoteattr
    return "".join(
        f"<tier agent={a(ext)} queue={a(QUEUE + '@default')} level='1' position='1'/>\n"
        for ext in agents
    )


def add_bench_parts(conf: Path, agents: tuple[str, ...], talk: float) -> None:
    """The benchmark's parts, into the wing's rendered files in `conf`."""

    def edit(name: str, change: Callable[[str, str], str]) -> None:
        path = conf / name
        path.write_text(change(path.read_text(encoding="utf-8"), str(path)), encoding="utf-8")

    # FreeSWITCH stamps events with its timer's time, which moves in 20 ms ticks by default:
    # a 1 ms tick, so join→ring and idle gaps are measured to the millisecond
    edit(
        "freeswitch.xml",
        lambda t, w: insert(t, "</settings></configuration>", ONE_MS_TIMER, w),
    )

    def dialplan(t: str, w: str) -> str:
        t = insert(t, '<context name="cc-inbound">', baseline_dialplan(), w, after=True)
        return insert(t, "</include>", agent_context(talk), w)

    edit("cc-dialplan.xml", dialplan)

    def callcenter(t: str, w: str) -> str:
        t = insert(t, "</queues>", baseline_queue(), w)
        t = insert(t, "</tiers>", baseline_tiers(agents), w)
        start, end = insert(t, "<agents>", "", w).find("<agents>"), t.find("</agents>")
        return t[:start] + baseline_agents(agents) + t[end + len("</agents>") :]

    edit("cc-callcenter.conf.xml", callcenter)


def write_config(args: argparse.Namespace) -> Path:
    """The bench's config/ (a copy of the shipped one): one `kind = "freeswitch"` node on the
    bench's ports, the bench queue and agents; sipp's callers are the carrier trunk."""
    config_dir = WORK / "config"
    shutil.copytree(REPO / "config", config_dir)
    recording = "false" if args.no_recording else "true"
    (config_dir / "center.toml").write_text(center_toml(recording))
    (config_dir / "queue.toml").write_text(QUEUE_TOML)
    (config_dir / "agents.toml").write_text(agents_toml(args.agents))
    # mod_callcenter plays no position announcements nor callback offers: off for both
    outbound = config_dir / "outbound.toml"
    outbound.write_text(
        announcements_off(outbound.read_text(encoding="utf-8"), str(outbound)), encoding="utf-8"
    )
    trunks = config_dir / "trunks.toml"
    shipped = trunks.read_text(encoding="utf-8")
    if 'match = "127.0.0.1:15098"' not in shipped:
        raise SystemExit(f"{trunks}: the carrier trunk's match is not the shipped one")
    trunks.write_text(
        shipped.replace('match = "127.0.0.1:15098"', 'match = "127.0.0.1"'), encoding="utf-8"
    )
    return config_dir


def announcements_off(text: str, where: str) -> str:
    """outbound.toml with `enabled = false` in [announce] and in [callback] (which needs it)."""
    for section in ("[announce]", "[callback]"):
        start = text.find(f"\n{section}\n")
        at = text.find("\nenabled = true\n", start)
        following = text.find("\n[", start + 1)
        if start < 0 or at < 0 or (0 <= following < at):
            raise SystemExit(f"{where}: {section} has no 'enabled = true' to turn off")
        text = text[:at] + "\nenabled = false\n" + text[at + len("\nenabled = true\n") :]
    return text


def center_toml(recording: str) -> str:
    return f"""
[center]
name = "bench"
default_did = "{ENGINE_DID}"

[engine]
fallback_after = 120
heartbeat_interval = 1.0

[storage]
url = "sqlite:///{WORK}/engine.db"
queue_log = "{WORK}/queue_log"

[recordings]
root = "{WORK}/recordings"
enabled = {recording}

[[pbx.nodes]]
name = "{NODE}"
kind = "freeswitch"
host = "127.0.0.1"
sip_port = {SIP}
rtp_start = {RTP[0]}
rtp_end = {RTP[1]}
esl_port = {ESL}
secret_env = "{SECRET_ENV}"
agent_dial = "{AGENT_DIAL}"
"""


def instance(config: Config, args: argparse.Namespace) -> Instance:
    """The bench's FreeSWITCH: the center's configuration rendered by the wing, plus the
    benchmark's parts."""
    fs = instance_for(config, config.nodes[0], ensure_root())
    fs.render_config(config)
    add_bench_parts(fs.dir / "conf", tuple(a.extension for a in config.agents), args.talk)
    return fs


# --- observation ----------------------------------------------------------------------------


@dataclass
class Observation:
    joined: dict[str, float] = field(default_factory=dict)  # caller uuid -> join time
    rang: dict[str, float] = field(default_factory=dict)  # caller -> its agent leg's creation
    answered: dict[str, float] = field(default_factory=dict)  # caller -> bridged to the agent
    ended: set[str] = field(default_factory=set)  # callers hung up
    ringing: dict[str, float] = field(default_factory=dict)  # agent a leg -> created, unbridged
    legs: dict[str, str] = field(default_factory=dict)  # agent leg (a or b) uuid -> agent
    busy: set[str] = field(default_factory=set)  # agents with a leg up
    agent_free_at: dict[str, tuple[float, bool]] = field(default_factory=dict)
    gaps: list[float] = field(default_factory=list)

    def waiting(self) -> int:
        """Callers joined, not yet answered, still there, and not being rung (an agent leg
        that is ringing is for one of them)."""
        left = sum(1 for c in self.joined if c not in self.answered and c not in self.ended)
        return max(0, left - len(self.ringing))

    def see(self, event: EslEvent, join: tuple[str, str]) -> None:
        """Fold one event in (FreeSWITCH's own time stamps); `join` is the (event, application
        or subclass) that marks a caller's join in this phase."""
        try:
            at = int(event.get("Event-Date-Timestamp")) / 1e6
        except ValueError:
            return
        name, leg = event.name, event.uuid
        channel = event.get("Channel-Name")
        if name in ("CHANNEL_EXECUTE", "CUSTOM"):
            what = event.get("Application" if name == "CHANNEL_EXECUTE" else "Event-Subclass")
            if channel.startswith("sofia/") and (name, what) == join:
                self.joined.setdefault(leg, at)
            return
        if name == "CHANNEL_CREATE":
            m = _AGENT_LEG.match(channel)
            if m is None:
                return
            agent, side = m.groups()
            self.legs[leg] = agent
            if side == "a":
                self.ringing[leg] = at
                self.busy.add(agent)
                free = self.agent_free_at.pop(agent, None)
                if free is not None and free[1]:
                    self.gaps.append(at - free[0])
        elif name == "CHANNEL_BRIDGE":
            ends = {event.get("Bridge-A-Unique-ID"), event.get("Bridge-B-Unique-ID")}
            ends |= {leg, event.get("Other-Leg-Unique-ID")}
            callers = [u for u in ends if u in self.joined]
            agents = [u for u in ends if u in self.ringing]
            if callers and agents:
                self.rang.setdefault(callers[0], self.ringing.pop(agents[0]))
                self.answered.setdefault(callers[0], at)
        elif name == "CHANNEL_HANGUP":
            if leg in self.joined:
                self.ended.add(leg)
            agent = self.legs.pop(leg, None)
            if agent is None:
                return
            self.ringing.pop(leg, None)
            if agent in self.busy:  # the first of its legs to go: the agent is free
                self.busy.discard(agent)
                self.agent_free_at[agent] = (at, self.waiting() > 0)


class Observer:
    """One event-socket connection folding channel events into the current Observation."""

    def __init__(self, fs: Instance) -> None:
        self.client = fs.esl(events=EVENTS, timeout=30.0)
        self.obs = Observation()
        self.join = ("", "")
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.client.connect()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for event in self.client.events():
            self.obs.see(event, self.join)

    def reset(self, join: tuple[str, str] = ("", "")) -> Observation:
        done, self.obs = self.obs, Observation()
        self.join = join
        return done

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        await self.client.close()


# --- phases ---------------------------------------------------------------------------------


async def settle(observer: Observer, calls: int, timeout: float = 30.0) -> None:
    """Until every call of the phase is over (the last hangups' events read), at most
    `timeout` s: polled, never a fixed sleep."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        o = observer.obs
        if len(o.ended) >= min(calls, len(o.joined)) and not o.busy:
            return
        await asyncio.sleep(0.05)


async def run_phase(
    name: str,
    did: str,
    observer: Observer,
    fs: Instance,
    load: argparse.Namespace,
    engine: EngineProcess | None,
    port: int,
    rtp: int,
) -> PhaseResult:
    observer.reset(JOINS[did])
    rng = random.Random(did)
    numbers = [f"1{rng.choice('3578')}{rng.randrange(10**9):09d}" for _ in range(load.calls)]
    # the FreeSWITCH root carries sipp too (it is made from the Asterisk root)
    sipp = Sipp(fs, local_port=port)
    cpu_f0 = cpu_seconds(fs.pid())
    cpu_e0 = cpu_seconds(engine.pid if engine else None)
    sipp.start(
        ((did, n) for n in numbers), rate=load.rate, patience=600, limit=load.calls, rtp_port=rtp
    )
    result = await asyncio.to_thread(sipp.wait, 600 + load.calls / load.rate)
    await settle(observer, load.calls)
    cpu_f = cpu_seconds(fs.pid()) - cpu_f0
    cpu_e = cpu_seconds(engine.pid if engine else None) - cpu_e0
    o = observer.reset()
    return PhaseResult(
        name=name,
        calls=load.calls,
        completed=len(o.answered),
        join_ring=[o.rang[c] - o.joined[c] for c in o.joined if c in o.rang],
        gaps=o.gaps,
        served_per_s=served_per_second(o.joined, o.answered),
        cpu_pbx=cpu_f,
        cpu_engine=cpu_e,
        sipp_ok=result.successful,
        observed=o,
    )


def empty(name: str, calls: int) -> PhaseResult:
    return PhaseResult(name, calls, 0, [], [], 0.0, 0.0, 0.0, 0, Observation())


async def bench(args: argparse.Namespace) -> int:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    config_dir = write_config(args)
    fs = instance(load_config(config_dir), args)
    fs.stop()
    # mod_callcenter keeps agents and tiers in its database across restarts (XML agents are
    # added, never removed): a fresh one, so the queue has exactly this run's agents
    shutil.rmtree(fs.dir / "db", ignore_errors=True)
    await asyncio.to_thread(fs.start)
    observer = Observer(fs)
    engine: EngineProcess | None = None
    if not args.baseline_only:
        engine = engine_process(config_dir, fs, args.trace)
    capacity = args.agents / args.talk
    light_rate = max(0.5, capacity / 4)
    scenarios = [
        ("light load: agents free, nobody waits", args.light_calls, light_rate),
        ("heavy load: callers wait for agents", args.calls, args.rate),
    ]
    if args.only:
        scenarios = [sc for sc in scenarios if sc[0].startswith(args.only)]
    print(
        f"end to end on FreeSWITCH: {args.agents} loopback agents talking {args.talk:g} s "
        f"(capacity {capacity:.1f} calls/s), sipp callers with RTP, wrap-up 0; "
        f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    ok = True
    port = SIPP
    try:
        await observer.start()
        for title, calls, rate in scenarios:
            load = argparse.Namespace(calls=calls, rate=rate)
            print(f"\n## {title}: {calls} callers at {rate:g}/s per phase", flush=True)
            first = empty("engine", calls)
            if engine is not None:
                await asyncio.to_thread(engine.start)
                first = await run_phase(
                    "engine", ENGINE_DID, observer, fs, load, engine, port, SIPP_RTP
                )
                engine.stop()
            second = await run_phase(
                "mod_callcenter", BASELINE_DID, observer, fs, load, None, port + 1, SIPP_RTP + 10
            )
            port += 2
            for line in table(first, second, "mod_callcenter", "FreeSWITCH"):
                print(line)
            print(
                f"(sipp successful calls: engine {first.sipp_ok}/{calls}, "
                f"mod_callcenter {second.sipp_ok}/{calls}; idle gaps counted only while "
                f"callers waited: {len(first.gaps)} / {len(second.gaps)}; load average "
                f"{' '.join(f'{x:.1f}' for x in os.getloadavg())})",
                flush=True,
            )
            ok = ok and second.completed == calls
            ok = ok and (engine is None or first.completed == calls)
    finally:
        if engine is not None:
            engine.stop()
        await observer.close()
        if not args.keep_pbx:
            await asyncio.to_thread(fs.stop)
    return 0 if ok else 1


def engine_process(config_dir: Path, fs: Instance, trace: bool) -> EngineProcess:
    """The engine on the bench's config (not started yet)."""
    load_config(config_dir)  # a config error names its file and key before anything starts
    return EngineProcess(config_dir, WORK, HTTP, {SECRET_ENV: fs.esl_password}, trace=trace)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="engine vs mod_callcenter, end to end")
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--talk", type=float, default=2.0, help="seconds each call talks")
    parser.add_argument("--calls", type=int, default=240, help="callers per phase")
    parser.add_argument("--rate", type=float, default=12.0, help="callers per second")
    parser.add_argument("--light-calls", type=int, default=200, help="callers, light phase")
    parser.add_argument("--keep-pbx", action="store_true")
    parser.add_argument("--only", choices=["light", "heavy"], help="run one load only")
    parser.add_argument(
        "--baseline-only", action="store_true", help="mod_callcenter alone, no engine phase"
    )
    parser.add_argument(
        "--no-recording",
        action="store_true",
        help="the engine's route without recording (mod_callcenter's never records)",
    )
    parser.add_argument("--trace", action="store_true", help="run the engine with --trace")
    return asyncio.run(bench(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
