"""Benchmark: one media node against two behind Kamailio on the same load, and a node's death.

On the sandbox root (real Asterisk nodes, real Kamailio, sipp callers; loopback ports of the
integration slot, CALLCENTER_IT_SLOT): sipp places `--calls` calls at `--rate` calls/s to the
proxy, each held `--hold` s (the node answers and plays its hold music: real RTP), then hangs
up. Each node has `--ports` RTP ports (a node takes ports/2 calls at once), the same in every
phase. Three phases in one invocation:

- one node: the proxy's dispatcher lists node A only;
- two nodes: A and B, the same load;
- a node dies: A and B, the same load; node B is killed (SIGKILL) halfway through. Here
  each node has twice the ports (N+1 sizing: each node's range takes the whole load after a
  failover), so a call that fails is one the death took, not one the survivor had no room
  for.

Printed per phase: calls completed and failed, completed calls/s, the most calls up at once
(sipp's count), and for the death phase: the calls up on B when it died, kill -> the proxy
marks B down (after which no new call is sent there; before, a call sent there fails over to
A after the proxy's node_timeout), and the calls lost.

    CALLCENTER_IT_SLOT=4 python tools/bench_nodes.py [--calls 160] [--rate 4] [--hold 10]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callcenter.config import Config  # noqa: E402
from callcenter.pbx.asterisk.sandbox import Instance  # noqa: E402
from callcenter.pbx.kamailio.proxy import ProxySandbox, node_states  # noqa: E402
from tests.integration.harness import PHONE_RTP, wait_until  # noqa: E402
from tests.integration.nodes import NODE_NAMES, PROXY_SIP, SIP, make_config  # noqa: E402
from tests.integration.ports import CONTROL  # noqa: E402

BENCH_EXTEN = "600"
LOCAL_DIALPLAN = f"""
[cc-public]
exten => {BENCH_EXTEN},1,Answer()
 same => n,MusicOnHold(default)
"""
SCENARIO = Path(__file__).resolve().parent / "sipp" / "bench_call.xml"
SIPP_PORT = CONTROL + 460
SIPP_MEDIA = PHONE_RTP + 980


@dataclasses.dataclass
class Phase:
    name: str
    completed: int = 0
    failed: int = 0
    seconds: float = 0.0
    peak: int = 0
    up_on_killed: int = -1
    kill_to_down: float = -1.0


def instances(config: Config, ports: int) -> list[Instance]:
    found = []
    for i, node in enumerate(config.nodes):
        found.append(
            Instance(
                name=f"bench-{node.name}",
                sip_port=node.sip_port,
                ami_port=SIP[i] + 1,
                rtp_start=node.rtp_start,
                rtp_end=node.rtp_start + ports - 1,
                emergency_port=SIP[i] + 2,
                carrier_port=SIP[i] + 3,
                local_dialplan=LOCAL_DIALPLAN,
            )
        )
    return found


def sipp(proxy: ProxySandbox, calls: int, rate: float, hold: float, workdir: Path) -> Phase:
    """One sipp run of the built-in uac scenario against the proxy; its counts."""
    inner = f"{proxy.inner}/sipp"
    (proxy.dir / "sipp").mkdir(parents=True, exist_ok=True)
    stats = proxy.dir / "sipp" / "stats.csv"
    stats.unlink(missing_ok=True)
    scenario = SCENARIO.read_text().replace("@HOLD_MS@", str(int(hold * 1000)))
    (proxy.dir / "sipp" / "call.xml").write_text(scenario)
    args = ["chroot", str(proxy.root), "/usr/bin/sipp", f"127.0.0.1:{PROXY_SIP}",
            "-sf", f"{inner}/call.xml", "-s", BENCH_EXTEN, "-i", "127.0.0.1", "-p", str(SIPP_PORT),
            "-mp", str(SIPP_MEDIA), "-m", str(calls), "-r", str(rate), "-rp", "1000",
            "-l", str(calls), "-nostdin", "-trace_stat",
            "-fd", "1", "-stf", f"{inner}/stats.csv", "-recv_timeout", "20000",
            "-timeout", str(int(calls / rate + hold + 120)) + "s"]  # fmt: skip
    started = time.monotonic()
    proc = subprocess.run(args, capture_output=True, text=True)
    phase = Phase("", seconds=time.monotonic() - started)
    lines = stats.read_text().strip().splitlines() if stats.exists() else []
    if len(lines) < 2:
        raise SystemExit(f"sipp gave no statistics ({proc.returncode}): {proc.stdout[-800:]}")
    header = lines[0].split(";")
    rows = [dict(zip(header, line.split(";"), strict=False)) for line in lines[1:]]
    phase.completed = int(rows[-1].get("SuccessfulCall(C)", 0))
    phase.failed = int(rows[-1].get("FailedCall(C)", 0))
    phase.peak = max(int(r.get("CurrentCall", 0) or 0) for r in rows)
    return phase


def run_phase(
    name: str,
    config: Config,
    nodes: list[Instance],
    args: argparse.Namespace,
    workdir: Path,
    kill: int | None = None,
) -> Phase:
    pc = config.proxy
    assert pc is not None
    proxy = ProxySandbox(pc, config.nodes, name="bench-proxy")
    proxy.stop()
    proxy.render(config)
    for node in nodes:
        node.render(config)
        if not node.running():
            node.start()
        node.reload()
    proxy.start()
    wait_until(
        lambda: list(node_states(pc, config.nodes).values()) == ["up"] * len(nodes),
        60,
        "the proxy to find the nodes up",
    )
    killer: dict[str, float] = {}

    def kill_halfway() -> None:
        assert kill is not None
        time.sleep(args.calls / args.rate / 2)
        victim = nodes[kill]
        killer["up"] = float(victim.cli("core show channels count").split()[0] or 0)
        pid = victim.pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        at = time.monotonic()
        name = config.nodes[kill].name
        wait_until(lambda: node_states(pc, config.nodes)[name] == "down", 60, "down")
        killer["down"] = time.monotonic() - at

    thread = threading.Thread(target=kill_halfway) if kill is not None else None
    if thread is not None:
        thread.start()
    try:
        phase = sipp(proxy, args.calls, args.rate, args.hold, workdir)
    finally:
        if thread is not None:
            thread.join()
        proxy.stop()
    phase.name = name
    phase.up_on_killed = int(killer.get("up", -1))
    phase.kill_to_down = killer.get("down", -1.0)
    return phase


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=160)
    parser.add_argument("--rate", type=float, default=4.0, help="calls per second")
    parser.add_argument("--hold", type=float, default=10.0, help="seconds each call is held")
    parser.add_argument("--ports", type=int, default=60, help="RTP ports per node")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-nodes-"))
    two = make_config(workdir)
    one = dataclasses.replace(two, nodes=two.nodes[:1])
    nodes = instances(two, args.ports)
    phases: list[Phase] = []
    sized = instances(two, 2 * args.ports)
    try:
        phases.append(run_phase("one node", one, nodes[:1], args, workdir))
        phases.append(run_phase("two nodes", two, nodes, args, workdir))
        for node in nodes:
            node.stop()  # the RTP range changes: a restart, not a reload
        phases.append(run_phase("a node dies (N+1 ports)", two, sized, args, workdir, kill=1))
    finally:
        for node in nodes:
            node.stop()
    print(
        f"load: {args.calls} calls at {args.rate}/s, held {args.hold:.0f} s "
        f"(about {args.rate * args.hold:.0f} up at once); {args.ports} RTP ports a node "
        f"({args.ports // 2} calls); nodes {', '.join(NODE_NAMES)}"
    )
    print("| phase | completed | failed | completed calls/s | most up at once |")
    print("|---|---:|---:|---:|---:|")
    for p in phases:
        print(
            f"| {p.name} | {p.completed} | {p.failed} | {p.completed / p.seconds:.2f} | {p.peak} |"
        )
    dead = phases[-1]
    print(
        f"node death: {dead.up_on_killed} calls up on the killed node; kill -> down at the "
        f"proxy {dead.kill_to_down:.1f} s; calls failed {dead.failed}, of them up on the "
        f"killed node {dead.up_on_killed}, others {dead.failed - dead.up_on_killed}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
