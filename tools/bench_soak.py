"""Soak benchmark: a long shift at about 85 % of capacity on the sandbox, recording on.

The real parts of the integration harness, on ports of their own (30500-32700): a private
sandbox Asterisk ("soak"), the engine as its own process (`callcenter serve`), N agents on
pjsua2 softphones (two a process) that answer with audio and hang up after a random talk
time, and sipp callers sending real SIP and A-law RTP who wait up to --patience seconds.
Callers arrive at 0.85 x agents / mean handle time (Erlang: handle = talk + wrap-up + the
answer delay and set-up).

Every --every seconds it samples the engine's RSS and open files (/proc), the engine's queue
(/api/queue) against Asterisk's (caller channels in the hold or offer context not yet
bridged, from `core show channels concise`; a mismatch counts only when two engine reads
around the Asterisk read agree), and agents stuck: not idle, or paused by the engine, with no
channel of their phone in Asterisk, for longer than --stuck-after seconds.

At the end: calls offered / answered / abandoned / lost (a call is lost when sipp placed it
and the engine has no complete record of it, or the caller never got a final response),
RSS and open files at start and end with their slope per minute, the most calls one softphone
process took, and each softphone's exit status. Exits 1 on a lost call, a stuck agent or a
softphone that did not exit cleanly.

    python tools/bench_soak.py                   # 8 agents, one hour
    python tools/bench_soak.py --duration 600    # ten minutes
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402

from callcenter.config import load_config  # noqa: E402
from callcenter.paths import REPO  # noqa: E402
from callcenter.pbx.asterisk.sandbox import Instance, ensure_root  # noqa: E402
from callcenter.simulation import Sipp, Softphone, agent_phones, write_tone  # noqa: E402
from tests.integration.harness import Engine  # noqa: E402
from tools.bench_common import agents_toml  # noqa: E402

# all inside 30500-32700 (the integration slots use 10000-30000, bench_e2e 23060-24999)
SIP, AMI, HTTP = 31060, 31038, 31080
EMERGENCY, CARRIER = 31099, 31098
RTP = (31100, 31999)  # Asterisk
SIPP_SIP, SIPP_RTP = 32050, 30600
PHONE_SIP, PHONE_RTP = 32000, 32100  # agent i: SIP 32000 + i, RTP 32100 + 40 i (40 each)
MAX_AGENTS = 14
WORK = REPO / "var" / "soak"
DID = "12345"
HOLD_CONTEXTS = ("cc-join", "cc-hold")  # a caller the engine holds (its agents' legs may ring)

CENTER = f"""
[center]
name = "soak"
timezone = "Asia/Shanghai"
default_did = "{DID}"

[engine]
fallback_after = 30
heartbeat_interval = 1.0

[storage]
url = "sqlite:///{WORK}/engine.db"
queue_log = "{WORK}/queue_log"

[recordings]
root = "{WORK}/recordings"

[[pbx.nodes]]
name = "soak"
kind = "asterisk"
host = "127.0.0.1"
ami_port = {AMI}
ami_user = "callcenter"
secret_env = "CALLCENTER_AMI_SECRET"
sip_port = {SIP}
rtp_start = {RTP[0]}
rtp_end = {RTP[1]}
"""


def queue_toml(wrapup: float) -> str:
    return f"""
[queue]
strategy = "longest_idle"
offer_timeout = 10
wrapup = {wrapup:g}
max_no_answer = 3
no_answer_backoff = 30
max_wait = 3600
leave_when_no_agents = false
"""


# --- samples --------------------------------------------------------------------------------


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def proc_fds(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


@dataclass
class Channel:
    name: str
    context: str
    bridge: str


def channels(instance: Instance) -> list[Channel]:
    """Asterisk's channels (`core show channels concise`: name!context!exten!priority!state!
    application!data!callerid!accountcode!peeraccount!amaflags!duration!bridgeid!uniqueid)."""
    out = instance.cli("core show channels concise", check=False)
    rows = []
    for line in out.splitlines():
        parts = line.split("!")
        if len(parts) >= 13:
            rows.append(Channel(parts[0], parts[1], parts[12]))
    return rows


def asterisk_queue(chans: list[Channel], agent_exts: set[str]) -> int:
    """Callers Asterisk holds for the engine: in the join/hold/offer contexts, not bridged."""
    return sum(
        1
        for c in chans
        if c.context in HOLD_CONTEXTS and not c.bridge and _endpoint(c.name) not in agent_exts
    )


def _endpoint(channel: str) -> str:
    # "PJSIP/2001-0000002a" -> "2001"
    return channel.split("/", 1)[-1].rsplit("-", 1)[0]


@dataclass
class Sample:
    at: float
    rss_mb: float
    fds: int
    engine_queue: int
    asterisk_queue: int
    mismatch: bool
    busy_agents: int
    channels: int


@dataclass
class Watch:
    stuck_after: float
    since: dict[str, float] = field(default_factory=dict)  # agent -> first seen "no call"
    stuck: dict[str, str] = field(default_factory=dict)  # agent -> what it showed

    def check(self, now: float, agents: list[dict[str, Any]], live: set[str]) -> None:
        """An agent not idle (or paused by the engine) with no channel of its phone."""
        for a in agents:
            ext = a["agent_id"]
            odd = a["state"] != "idle" or a["status"] != "available"
            if odd and ext not in live:
                first = self.since.setdefault(ext, now)
                if now - first > self.stuck_after:
                    self.stuck.setdefault(ext, f"{a['status']}/{a['state']} {a['reason']}")
            else:
                self.since.pop(ext, None)


def sample(engine: Engine, instance: Instance, watch: Watch, agent_exts: set[str]) -> Sample:
    """One sample. A queue mismatch is counted when it is still there on a third look half
    a second apart (an event in flight between Asterisk and the engine is not one)."""
    assert engine.proc is not None
    pid = engine.proc.pid
    for _ in range(3):
        before = len(engine.queue())
        chans = channels(instance)
        after = len(engine.queue())
        in_asterisk = asterisk_queue(chans, agent_exts)
        if not (before == after and after != in_asterisk):
            break
        time.sleep(0.5)
    agents = engine.get("/api/agents")["agents"]
    live = {_endpoint(c.name) for c in chans} & agent_exts
    now = time.time()
    watch.check(now, agents, live)
    return Sample(
        at=now,
        rss_mb=proc_rss_mb(pid),
        fds=proc_fds(pid),
        engine_queue=after,
        asterisk_queue=in_asterisk,
        mismatch=before == after and after != in_asterisk,
        busy_agents=len(live),
        channels=len(chans),
    )


def slope_per_min(samples: list[Sample], key: str) -> float:
    """Least-squares slope of a sampled value, per minute."""
    if len(samples) < 2:
        return 0.0
    xs = [s.at / 60 for s in samples]
    ys = [float(getattr(s, key)) for s in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


# --- the run --------------------------------------------------------------------------------


@dataclass
class Outcome:
    placed: int
    sipp_ok: int
    sipp_failed: int
    rows: int
    complete: int
    answered: int
    abandoned: int
    other: int
    talk_seconds: float

    @property
    def lost(self) -> int:
        return max(self.placed - self.complete, 0) + self.sipp_failed


def outcome(db: Path, since: float, placed: int, sipp_ok: int, sipp_failed: int) -> Outcome:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            query = (
                "SELECT leave_reason, left_at, ended_at, talk_seconds FROM calls"
                " WHERE joined_at >= :t"
            )
            rows = list(conn.execute(text(query), {"t": since}))
    finally:
        engine.dispose()
    complete = [
        r for r in rows if r.left_at is not None and (r.leave_reason != "answered" or r.ended_at)
    ]
    answered = sum(1 for r in complete if r.leave_reason == "answered")
    abandoned = sum(1 for r in complete if r.leave_reason == "abandoned")
    return Outcome(
        placed=placed,
        sipp_ok=sipp_ok,
        sipp_failed=sipp_failed,
        rows=len(rows),
        complete=len(complete),
        answered=answered,
        abandoned=abandoned,
        other=len(complete) - answered - abandoned,
        talk_seconds=sum(r.talk_seconds or 0.0 for r in complete),
    )


def report(
    args: argparse.Namespace,
    rate: float,
    samples: list[Sample],
    result: Outcome,
    watch: Watch,
    most_calls: int,
    exits: list[int | None],
) -> list[str]:
    first, last = samples[0], samples[-1]
    minutes = (last.at - first.at) / 60
    mismatches = sum(1 for s in samples if s.mismatch)
    settled = [s for s in samples if s.at - first.at >= 120]
    busy = (result.talk_seconds + result.answered * args.wrapup) / (args.agents * 60 * minutes)
    rows = [
        ("duration (min)", f"{minutes:.1f}"),
        ("agents / arrival rate", f"{args.agents} / {rate:.3f} calls/s"),
        ("calls offered (placed by sipp)", f"{result.placed}"),
        (
            "answered / abandoned / other",
            f"{result.answered} / {result.abandoned} / {result.other}",
        ),
        ("engine records (complete)", f"{result.rows} ({result.complete})"),
        ("agents busy (talk + wrap-up)", f"{busy:.0%}"),
        ("callers with no final response (sipp)", f"{result.sipp_failed}"),
        ("calls lost", f"{result.lost}"),
        ("stuck agents", f"{len(watch.stuck)} {watch.stuck or ''}".strip()),
        ("queue samples / mismatches", f"{len(samples)} / {mismatches}"),
        ("max queue (engine)", f"{max(s.engine_queue for s in samples)}"),
        ("engine RSS start / end (MB)", f"{first.rss_mb:.1f} / {last.rss_mb:.1f}"),
        ("engine RSS slope (MB/min)", f"{slope_per_min(samples, 'rss_mb'):+.3f}"),
        ("  after the first 2 min", f"{slope_per_min(settled, 'rss_mb'):+.3f}"),
        ("engine open files start / end", f"{first.fds} / {last.fds}"),
        ("engine open files slope (/min)", f"{slope_per_min(samples, 'fds'):+.3f}"),
        ("  after the first 2 min", f"{slope_per_min(settled, 'fds'):+.3f}"),
        ("most calls one softphone process took", f"{most_calls}"),
        ("softphone exit statuses", " ".join(str(c) for c in exits)),
    ]
    return ["| measure | value |", "|---|---:|"] + [f"| {k} | {v} |" for k, v in rows]


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.agents <= MAX_AGENTS:
        raise SystemExit(f"--agents must be 1-{MAX_AGENTS} (the softphones' RTP ports)")
    ensure_root()
    shutil.rmtree(WORK, ignore_errors=True)
    config_dir = WORK / "config"
    shutil.copytree(REPO / "config", config_dir)
    (config_dir / "center.toml").write_text(CENTER)
    (config_dir / "queue.toml").write_text(queue_toml(args.wrapup))
    (config_dir / "agents.toml").write_text(agents_toml(args.agents))
    quality = config_dir / "quality.toml"  # no background governance in the measurement
    quality.write_text(
        quality.read_text(encoding="utf-8").replace("enabled = true", "enabled = false", 1),
        encoding="utf-8",
    )
    config = load_config(config_dir)
    if not config.recordings.enabled:
        raise SystemExit(f"{config_dir / 'center.toml'}: [recordings] enabled must be true")
    (WORK / "recordings").mkdir(parents=True, exist_ok=True)
    (WORK / "heard").mkdir()
    instance = Instance(
        name="soak",
        sip_port=SIP,
        ami_port=AMI,
        rtp_start=RTP[0],
        rtp_end=RTP[1],
        emergency_port=EMERGENCY,
        carrier_port=CARRIER,
        recordings_host=WORK / "recordings",
    )
    talk_low, talk_high = (float(x) for x in args.talk.split(":"))
    handle = (talk_low + talk_high) / 2 + args.wrapup + args.answer_delay + args.setup
    rate = args.load * args.agents / handle
    calls = max(1, round(rate * args.duration))
    agent_exts = {a.extension for a in config.agents}
    instance.stop()
    # a fresh queue_log, and no finished calls of an earlier run in AstDB to reconcile
    (instance.dir / "log" / "queue_log").unlink(missing_ok=True)
    (instance.dir / "db" / "astdb.sqlite3").unlink(missing_ok=True)
    instance.render(config)
    instance.start()
    engine = Engine(
        config_dir,
        f"sqlite:///{WORK / 'engine.db'}",
        instance.secrets()["ami"],
        WORK / "engine.log",
        http_port=HTTP,
    )
    phones: dict[str, Softphone] = {}
    sipp = Sipp(instance, local_port=SIPP_SIP)
    watch = Watch(args.stuck_after)
    samples: list[Sample] = []
    exits: list[int | None] = []
    print(
        f"soak: {args.agents} agents talking {args.talk} s, wrap-up {args.wrapup:g} s "
        f"(handle ~{handle:.1f} s), {calls} sipp callers at {rate:.3f}/s "
        f"({args.load:.0%} of capacity) over {args.duration:g} s, recording on",
        flush=True,
    )
    try:
        engine.start()
        phones = agent_phones(
            f"127.0.0.1:{SIP}",
            [(a.extension, instance.agent_password(a.extension)) for a in config.agents],
            port=PHONE_SIP,
            rtp_port=PHONE_RTP,
            rtp_stride=40,
            play=str(write_tone(WORK / "agent700.wav", 700.0)),
            record_dir=str(WORK / "heard"),
            answer_delay=args.answer_delay,
            talk=(talk_low, talk_high),
        )
        deadline = time.monotonic() + 60
        while any(a["state"] != "idle" for a in engine.agents().values()):
            if time.monotonic() > deadline:
                raise SystemExit(f"agents not idle after 60 s: {engine.agents()}")
            time.sleep(0.5)
        rng_numbers = (f"139{i:08d}" for i in range(calls))
        samples.append(sample(engine, instance, watch, agent_exts))
        started = time.time()
        sipp.start(
            ((DID, n) for n in rng_numbers),
            rate=rate,
            patience=args.patience,
            limit=10 * args.agents + 50,
            rtp_port=SIPP_RTP,
        )
        next_at = time.monotonic() + args.every
        while sipp.proc is not None and sipp.proc.poll() is None:
            time.sleep(max(0.0, min(1.0, next_at - time.monotonic())))
            if time.monotonic() >= next_at:
                next_at += args.every
                s = sample(engine, instance, watch, agent_exts)
                samples.append(s)
                if len(samples) % 6 == 1:
                    print(
                        f"  {(s.at - samples[0].at) / 60:5.1f} min: RSS {s.rss_mb:.1f} MB, "
                        f"{s.fds} files, queue {s.engine_queue}/{s.asterisk_queue}, "
                        f"{s.busy_agents} agents on calls, stuck {len(watch.stuck)}",
                        flush=True,
                    )
        result = sipp.wait(60)
        time.sleep(args.every)  # let the last calls' records and wrap-ups settle
        samples.append(sample(engine, instance, watch, agent_exts))
        most = max(
            len(p.seen(lambda e: e.get("event") == "disconnected")) for p in set(phones.values())
        )
        for phone in set(phones.values()):
            phone.close()
            exits.append(phone.proc.returncode)
            if phone.proc.returncode != 0 and phone.proc.stderr is not None:
                print(f"softphone {phone.accounts[0][0]}: {phone.proc.stderr.read()[-500:]}")
        engine.stop()
        done = outcome(WORK / "engine.db", started, calls, result.successful, result.failed)
    finally:
        sipp.stop()
        for phone in set(phones.values()):
            phone.close()
        engine.stop()
        if not args.keep_pbx:
            instance.stop()
    for line in report(args, rate, samples, done, watch, most, exits):
        print(line)
    clean = all(code == 0 for code in exits)
    return 0 if done.lost == 0 and not watch.stuck and clean else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="soak: a long shift at ~85 % of capacity")
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--duration", type=float, default=3600.0, help="seconds of arrivals")
    parser.add_argument("--load", type=float, default=0.85, help="share of capacity offered")
    parser.add_argument("--talk", default="2:4", help="MIN:MAX seconds an agent talks")
    parser.add_argument("--wrapup", type=float, default=2.0, help="seconds of wrap-up")
    parser.add_argument("--answer-delay", type=float, default=0.3)
    parser.add_argument(
        "--setup", type=float, default=0.5, help="seconds per call to offer, ring and bridge"
    )
    parser.add_argument("--patience", type=float, default=120.0, help="a caller's max wait")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--stuck-after", type=float, default=60.0)
    parser.add_argument("--keep-pbx", action="store_true")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
