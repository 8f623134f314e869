"""`callcenter demo`: the whole thing on embedded defaults.

A sandbox Asterisk, the engine with SQLite, the configured agents on pjsua2 softphones
(auto-answer, talk a few seconds, hang up) and sipp citizens calling 12345 and the merged
hotline numbers with real RTP speech. Prints a live summary every two seconds and a final
report; Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from callcenter.config import Config
from callcenter.data.crypto import sandbox_cipher
from callcenter.live_figures.report import detail_lines, report, summary_line
from callcenter.paths import REPO
from callcenter.pbx.registry import node_named, sandbox_up, wing
from callcenter.runtime import Runtime
from callcenter.service import Service, ServiceOptions
from callcenter.simulation import Sipp, Softphone, write_tone

DEMO_HTTP_PORT = 8345  # the console and the API while the demo runs (loopback only)

# How often each number is dialled in the demo (12345 carries most of the traffic).
DID_WEIGHTS = {"12345": 10, "12315": 2, "12333": 2, "12369": 1, "12320": 1, "12319": 1, "12348": 1}


def citizens(config: Config, count: int, seed: int = 12345) -> Iterator[tuple[str, str]]:
    rng = random.Random(seed)
    # sipp callers press no keys: numbers with a menu (entry = "menu") are left to the tests
    dids = [n.did for n in config.numbers if n.did in DID_WEIGHTS and n.entry == "direct"] or [
        config.center.default_did
    ]
    weights = [DID_WEIGHTS.get(d, 1) for d in dids]
    pool = [f"1{rng.choice('3578')}{rng.randrange(10**9):09d}" for _ in range(max(4, count // 2))]
    for _ in range(count):
        yield rng.choices(dids, weights)[0], rng.choice(pool)  # repeat callers happen


def log_to_file(path: Path) -> None:
    """The engine's and the background jobs' log lines go to `path`, not between the live
    summary lines; only errors still reach the terminal."""
    path.unlink(missing_ok=True)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.StreamHandler) and not isinstance(
            handler, logging.FileHandler
        ):
            handler.setLevel(logging.ERROR)
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(to_file)


def run_demo(
    config: Config,
    calls: int,
    rate: float,
    talk: tuple[float, float],
    keep_pbx: bool,
    pbx: str = "",
) -> int:
    """`pbx`: the media server's kind (a registry kind); "" or the first node's own kind keeps
    center.toml's node, another kind puts that kind's sandbox node in its place."""
    first = node_named(config)
    if pbx and pbx != first.kind:
        config = dataclasses.replace(config, nodes=(wing(pbx).sandbox_node(first.name),))
    workdir = REPO / "var" / "demo"
    workdir.mkdir(parents=True, exist_ok=True)
    # this run's records, recordings and log only: the previous demo's are removed
    for old in ("demo.db", "queue_log"):
        (workdir / old).unlink(missing_ok=True)
    recordings = workdir / "recordings"
    shutil.rmtree(recordings, ignore_errors=True)
    config = dataclasses.replace(
        config, recordings=dataclasses.replace(config.recordings, root=str(recordings))
    )
    log_file = workdir / "demo.log"
    log_to_file(log_file)
    if wing(node_named(config).kind).sandbox_ready():
        print("[demo] starting the sandbox PBX")
    else:
        print("[demo] building the sandbox PBX root (once, about a minute), then starting it")
    instance = sandbox_up(config)
    tone = write_tone(workdir / "agent-voice.wav", 700.0, seconds=20)
    registrar = f"{instance.host}:{instance.sip_port}"
    phones: list[Softphone] = []
    agents = [(a.extension, instance.agent_password(a.extension)) for a in config.agents]
    for i in range(0, len(agents), 2):
        phones.append(
            Softphone(
                registrar,
                port=instance.sip_port + 1000 + i,
                accounts=agents[i : i + 2],
                play=str(tone),
                rtp_port=instance.rtp_end + 1000 + 100 * i,
                answer_delay=0.5,
                talk=talk,
                seed=1000 + i,
            )
        )
    sipp = Sipp(instance, local_port=instance.sip_port + 900)
    options = ServiceOptions(
        db_url=f"sqlite:///{workdir / 'demo.db'}",
        queue_log=str(workdir / "queue_log"),
        secrets={config.nodes[0].name: instance.control_secret()},
        workdir=REPO,
        http_port=DEMO_HTTP_PORT,
        cipher=sandbox_cipher(REPO),
        open_loopback=True,  # the demo's console and API, for whoever sits at this machine
    )
    service = Service(config, options)
    try:
        for phone in phones:
            phone.wait_registered()
        print(f"[demo] {len(agents)} agents registered; {calls} callers at {rate}/s")
        base = f"http://127.0.0.1:{DEMO_HTTP_PORT}"
        print(f"[demo] wallboard: {base}/console/  agent workspace: {base}/console/agent")
        print(f"[demo] metrics: {base}/metrics  log: {log_file}")
        asyncio.run(_drive(service, sipp, config, calls, rate))
    finally:
        sipp.stop()
        for phone in phones:
            phone.close()
        if not keep_pbx:
            instance.stop()
    print(report(service.figures))
    print(f"[demo] call records: {workdir / 'demo.db'}; queue_log: {workdir / 'queue_log'}")
    print(f"[demo] recordings: {recordings} (kept until the next demo); log: {log_file}")
    return 0


async def _drive(service: Service, sipp: Sipp, config: Config, calls: int, rate: float) -> None:
    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupted.set)

    async def on_ready(runtime: Runtime) -> None:
        await _wait_link(runtime)
        sipp.start(citizens(config, calls), rate=rate, patience=150)
        started = time.monotonic()
        stats = service.figures
        ticks = 0
        while not interrupted.is_set():
            elapsed = time.monotonic() - started
            print(f"[{elapsed:6.1f}s] {summary_line(stats)}", flush=True)
            ticks += 1
            if ticks % 5 == 0:
                print("\n".join(detail_lines(stats)), flush=True)
            done = stats.joined >= calls and not stats.waiting and stats.finished >= stats.answered
            if done or (
                sipp.proc is not None and sipp.proc.poll() is not None and not stats.waiting
            ):
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(interrupted.wait(), 2.0)
        if interrupted.is_set():
            print("\n[demo] interrupted: stopping", file=sys.stderr)
        service.stop()

    await service.run(on_ready)


async def _wait_link(runtime: Runtime, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not all(runtime.link_up.values()):
        if time.monotonic() > deadline:
            raise RuntimeError("the engine could not log in to the PBX's AMI")
        await asyncio.sleep(0.05)
