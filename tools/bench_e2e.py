"""Benchmark (b): end to end on the sandbox Asterisk, the engine against Asterisk's own
app_queue on the same agents and the same sipp load, in one run.

Both phases use one private Asterisk ("bench", SIP 23060, AMI 23038). Agents are Local
channels that answer and talk for a fixed time (so both queues ring exactly the same seats);
callers are sipp UACs sending real SIP and A-law RTP, offered faster than the agents can
serve so callers wait. Phase 1 dials 12345 (the engine's queue, engine in its own process);
phase 2 dials 19999, which enters app_queue queue `bench` (strategy leastrecent = longest
idle, wrap-up 0, ringinuse no) with the engine stopped. An AMI observer timestamps (Asterisk's
own event timestamps) every join, ring, answer and agent hangup.

Reported per phase: completed calls, caller join -> agent ring p50/p99, agent idle gap
between calls while callers wait (p50/p99), calls served per second, CPU seconds of Asterisk
and of the engine; then engine/app_queue ratios.

    python tools/bench_e2e.py                      # 20 agents, 2 s talk, 240 calls at 12/s
    python tools/bench_e2e.py --agents 10 --calls 60 --rate 6
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from panoramisk import Manager  # noqa: E402
from panoramisk.message import Message  # noqa: E402

from callcenter import trace  # noqa: E402
from callcenter.config import load_config  # noqa: E402
from callcenter.paths import REPO  # noqa: E402
from callcenter.pbx.asterisk.dialplan import QueueSpec  # noqa: E402
from callcenter.pbx.asterisk.sandbox import Instance, ensure_root  # noqa: E402
from callcenter.percentile import percentile  # noqa: E402
from callcenter.simulation import Sipp  # noqa: E402
from tools.bench_common import (  # noqa: E402
    QUEUE_TOML,
    EngineProcess,
    PhaseResult,
    agents_toml,
    cpu_seconds,
    served_per_second,
    table,
)

# below the ephemeral port range, so no client socket can take a port before it is bound
SIP, AMI, HTTP = 23060, 23038, 23080
RTP = (24000, 24999)
ENGINE_DID, APP_QUEUE_DID = "12345", "19999"
WORK = REPO / "var" / "bench"

CENTER = f"""
[center]
name = "bench"
default_did = "12345"

[engine]
fallback_after = 120
heartbeat_interval = 1.0

[storage]
url = "sqlite:///{WORK}/engine.db"
queue_log = "{WORK}/queue_log"

[recordings]
root = "{WORK}/recordings"
enabled = {{recording}}

[[pbx.nodes]]
name = "bench"
kind = "asterisk"
host = "127.0.0.1"
ami_port = {AMI}
ami_user = "callcenter"
secret_env = "CALLCENTER_AMI_SECRET"
agent_dial = "Local/{{extension}}@bench-agent/n"
sip_port = {SIP}
rtp_start = {RTP[0]}
rtp_end = {RTP[1]}
"""


def local_dialplan(talk: float) -> str:
    return f"""
[cc-inbound]
exten => {APP_QUEUE_DID},1,Goto(bench-queue,s,1)

[bench-queue]
exten => s,1,Answer()
 same => n,UserEvent(BenchJoin)
 same => n,Queue(bench,,,,3600)
 same => n,Hangup()

[bench-agent]
exten => _X.,1,Answer()
 same => n,Wait({talk})
 same => n,Hangup()
"""


# --- observation ----------------------------------------------------------------------------


@dataclass
class Observation:
    joined: dict[str, float] = field(default_factory=dict)
    rang: dict[str, float] = field(default_factory=dict)
    answered: dict[str, float] = field(default_factory=dict)
    ringing: set[str] = field(default_factory=set)  # calls with an agent leg ringing
    agent_free_at: dict[str, tuple[float, bool]] = field(default_factory=dict)
    gaps: list[float] = field(default_factory=list)
    legs: dict[str, str] = field(default_factory=dict)  # agent channel -> agent
    # the caller reached cc-hold (CCWait) and cc-offer (CCRecording), first time each
    waited: dict[str, float] = field(default_factory=dict)
    recorded: dict[str, float] = field(default_factory=dict)

    def waiting(self) -> int:
        """Callers joined, not yet answered and not being rung."""
        return sum(1 for c in self.joined if c not in self.answered and c not in self.ringing)


def _stamp(m: Message) -> float:
    try:
        return float(m.get("Timestamp", ""))
    except ValueError:
        return time.time()


def _agent(channel: str) -> str:
    # "Local/2001@bench-agent-0000001a;1" -> "2001"
    return channel.split("/", 1)[-1].split("@", 1)[0]


class Observer:
    def __init__(self, secret: str) -> None:
        self.obs = Observation()
        self.manager = Manager(
            host="127.0.0.1", port=AMI, username="callcenter", secret=secret, ping_delay=60
        )
        self.manager.register_event("*", self._on_event)

    async def connect(self) -> None:
        await self.manager.connect()

    def reset(self) -> Observation:
        done, self.obs = self.obs, Observation()
        return done

    def _on_event(self, manager: Manager, m: Message) -> None:
        o = self.obs
        kind = m.get("Event", "")
        call = m.get("Linkedid", "")
        at = _stamp(m)
        # the engine's CCJoin, or BenchJoin just before Queue() on the app_queue baseline (the
        # engine's manager user does not read the agent class, where QueueCallerJoin is)
        joined = kind == "UserEvent" and m.get("UserEvent") in ("CCJoin", "BenchJoin")
        if joined:
            o.joined.setdefault(call, at)
        elif kind == "UserEvent" and call in o.joined:
            if m.get("UserEvent") == "CCWait":
                o.waited.setdefault(call, at)
            elif m.get("UserEvent") == "CCRecording":
                o.recorded.setdefault(call, at)
        elif kind == "DialBegin" and call in o.joined:
            dest = m.get("DestChannel", "")
            agent = _agent(dest)
            o.rang.setdefault(call, at)
            o.ringing.add(call)
            o.legs[dest] = agent
            free = o.agent_free_at.pop(agent, None)
            if free is not None and free[1]:
                o.gaps.append(at - free[0])
        elif kind == "DialEnd" and call in o.joined:
            o.ringing.discard(call)
            if m.get("DialStatus") == "ANSWER":
                o.answered.setdefault(call, at)
        elif kind == "Hangup":
            leg = o.legs.pop(m.get("Channel", ""), None)
            if leg is not None:
                o.agent_free_at[leg] = (at, o.waiting() > 0)


async def run_phase(
    name: str,
    did: str,
    observer: Observer,
    instance: Instance,
    args: argparse.Namespace,
    engine: EngineProcess | None,
    port: int,
) -> PhaseResult:
    observer.reset()
    rng = random.Random(did)
    numbers = [f"1{rng.choice('3578')}{rng.randrange(10**9):09d}" for _ in range(args.calls)]
    sipp = Sipp(instance, local_port=port)
    cpu_a0 = cpu_seconds(instance.pid())
    cpu_e0 = cpu_seconds(engine.pid if engine else None)
    sipp.start(((did, n) for n in numbers), rate=args.rate, patience=600, limit=args.calls)
    result = await asyncio.to_thread(sipp.wait, 600 + args.calls / args.rate)
    await asyncio.sleep(0.5)
    cpu_a = cpu_seconds(instance.pid()) - cpu_a0
    cpu_e = cpu_seconds(engine.pid if engine else None) - cpu_e0
    o = observer.reset()
    join_ring = [o.rang[c] - o.joined[c] for c in o.joined if c in o.rang]
    return PhaseResult(
        name=name,
        calls=args.calls,
        completed=len(o.answered),
        join_ring=join_ring,
        gaps=o.gaps,
        served_per_s=served_per_second(o.joined, o.answered),
        cpu_pbx=cpu_a,
        cpu_engine=cpu_e,
        sipp_ok=result.successful,
        observed=o,
    )


# the join -> ring path, stage by stage: (label, from, to); Asterisk's own event times (join,
# wait, record, ring) and the engine's trace marks (callcenter/trace.py)
STAGES = (
    ("Asterisk's CCJoin → engine parsed it", "join", "read"),
    ("parsed → owner task took it", "read", "owner"),
    ("owner took it → offer handed to sender (+ any wait for an agent)", "owner", "decided"),
    ("offer handed → sender task ran it", "decided", "sending"),
    ("sender ran it → actions written", "sending", "written"),
    ("written → Asterisk's DialBegin", "written", "ring"),
    ("  of which written → cc-offer's MixMonitor done", "written", "record"),
    ("(Asterisk: CCJoin → caller in cc-hold, CCWait)", "join", "wait"),
    ("CCJoin → DialBegin (join→ring)", "join", "ring"),
)


def trace_marks(log: Path) -> dict[str, dict[str, float]]:
    """call id -> stage -> first time, from the engine's --trace lines."""
    marks: dict[str, dict[str, float]] = {}
    if not log.exists():
        return marks
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        found = trace.parse(line)
        if found is not None:
            stage, call, at = found
            times = marks.setdefault(call, {})
            times.setdefault(stage, at)
            if stage == "held":  # kept until the caller is in cc-hold, then sent from CCWait
                times.setdefault("sending", at)
    return marks


def stage_table(o: Observation, marks: dict[str, dict[str, float]]) -> list[str]:
    out = [
        "| step (ms) | calls | p50 | p90 | p99 | max |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    held = sum(1 for call in o.joined if "held" in marks.get(call, {}))
    for label, start, end in STAGES:
        values = []
        for call in o.joined:
            times = dict(marks.get(call, {}))
            times["join"] = o.joined[call]
            if call in o.rang:
                times["ring"] = o.rang[call]
            if call in o.waited:
                times["wait"] = o.waited[call]
            if call in o.recorded:
                times["record"] = o.recorded[call]
            if start in times and end in times:
                values.append(1000 * (times[end] - times[start]))
        if not values:
            continue
        cells = " | ".join(f"{percentile(values, q) or 0.0:.1f}" for q in (50, 90, 99, 100))
        out.append(f"| {label} | {len(values)} | {cells} |")
    out.append(f"(offers the driver kept until the caller reached cc-hold: {held})")
    return out


async def bench(args: argparse.Namespace) -> int:
    ensure_root()
    shutil.rmtree(WORK, ignore_errors=True)
    config_dir = WORK / "config"
    shutil.copytree(REPO / "config", config_dir)
    recording = "false" if args.no_recording else "true"
    (config_dir / "center.toml").write_text(CENTER.replace("{recording}", recording))
    (config_dir / "queue.toml").write_text(QUEUE_TOML)
    (config_dir / "agents.toml").write_text(agents_toml(args.agents))
    # sipp's callers are the carrier trunk here (every port of 127.0.0.1: the agents are Local
    # channels, no phone sends from it), so the app_queue DID in [cc-inbound] is theirs
    trunks = config_dir / "trunks.toml"
    shipped = trunks.read_text(encoding="utf-8")
    if 'match = "127.0.0.1:15098"' not in shipped:
        raise SystemExit(f"{trunks}: the carrier trunk's match is not the shipped one")
    trunks.write_text(
        shipped.replace('match = "127.0.0.1:15098"', 'match = "127.0.0.1"'), encoding="utf-8"
    )
    config = load_config(config_dir)
    members = tuple(f"Local/{a.extension}@bench-agent/n" for a in config.agents)
    instance = Instance(
        name="bench",
        sip_port=SIP,
        ami_port=AMI,
        rtp_start=RTP[0],
        rtp_end=RTP[1],
        emergency_port=SIP + 39,
        extra_queues=(
            QueueSpec(name="bench", members=members, strategy="leastrecent", timeout=15, retry=1),
        ),
        local_dialplan=local_dialplan(args.talk),
        # Asterisk records into the engine's recordings root, as a production node's shared
        # storage: the engine indexes (and hashes) every call's files during the run
        recordings_host=WORK / "recordings",
    )
    instance.stop()
    instance.render(config)
    instance.start()
    secret = instance.secrets()["ami"]
    observer = Observer(secret)
    engine = EngineProcess(
        config_dir, WORK, HTTP, {"CALLCENTER_AMI_SECRET": secret}, trace=args.trace
    )
    capacity = args.agents / args.talk
    light_rate = max(0.5, capacity / 4)
    scenarios = [
        ("light load: agents free, nobody waits", args.light_calls, light_rate),
        ("heavy load: callers wait for agents", args.calls, args.rate),
    ]
    if args.only:
        scenarios = [sc for sc in scenarios if sc[0].startswith(args.only)]
    print(
        f"end to end: {args.agents} Local-channel agents talking {args.talk:g} s "
        f"(capacity {capacity:.1f} calls/s), sipp callers with RTP, wrap-up 0"
    )
    ok = True
    port = 23500
    try:
        await observer.connect()
        for title, calls, rate in scenarios:
            load = argparse.Namespace(calls=calls, rate=rate)
            print(f"\n## {title}: {calls} callers at {rate:g}/s per phase", flush=True)
            engine.start()
            first = await run_phase("engine", ENGINE_DID, observer, instance, load, engine, port)
            engine.stop()
            second = await run_phase(
                "app_queue", APP_QUEUE_DID, observer, instance, load, None, port + 1
            )
            port += 2
            for line in table(first, second, "app_queue", "Asterisk"):
                print(line)
            print(
                f"(sipp successful calls: engine {first.sipp_ok}/{calls}, "
                f"app_queue {second.sipp_ok}/{calls}; idle gaps counted only while callers "
                f"waited: {len(first.gaps)} / {len(second.gaps)})",
                flush=True,
            )
            if args.trace:
                print("\nengine, step by step (Asterisk's event times and the engine's marks):")
                for line in stage_table(first.observed, trace_marks(WORK / "engine.log")):
                    print(line)
            ok = ok and first.completed == calls and second.completed == calls
    finally:
        engine.stop()
        observer.manager.close()
        if not args.keep_pbx:
            instance.stop()
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="engine vs app_queue, end to end")
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--talk", type=float, default=2.0, help="seconds each call talks")
    parser.add_argument("--calls", type=int, default=240, help="callers per phase")
    parser.add_argument("--rate", type=float, default=12.0, help="callers per second")
    parser.add_argument("--light-calls", type=int, default=200, help="callers, light phase")
    parser.add_argument("--keep-pbx", action="store_true")
    parser.add_argument("--only", choices=["light", "heavy"], help="run one load only")
    parser.add_argument(
        "--no-recording",
        action="store_true",
        help="the engine's route without MixMonitor (what recording costs on the ring path; "
        "the app_queue baseline never records)",
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="run the engine with --trace and print each phase's join→ring steps",
    )
    return asyncio.run(bench(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
