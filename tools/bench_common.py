"""What the end-to-end benchmarks share (tools/bench_e2e.py on Asterisk, tools/bench_fs.py on
FreeSWITCH): the engine in its own process, CPU seconds of a process, one phase's figures and
the engine-vs-baseline table."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callcenter.data.crypto import FILE_ENV, write_key_file  # noqa: E402
from callcenter.paths import REPO  # noqa: E402
from callcenter.percentile import percentile  # noqa: E402

# the engine's queue in both benchmarks: longest idle, no wrap-up, no backoff, callers never
# give up; and the agents, logged in at start
QUEUE_TOML = """
[queue]
strategy = "longest_idle"
offer_timeout = 15
wrapup = 0
max_no_answer = 3
no_answer_backoff = 0
max_wait = 3600
"""


def agents_toml(count: int) -> str:
    return "".join(
        f'[[agent]]\nid = "{2001 + i}"\nextension = "{2001 + i}"\n'
        f"skills = {{ general = 3 }}\nlogin_on_start = true\n\n"
        for i in range(count)
    )


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a live process (0 when there is none)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class EngineProcess:
    """`callcenter serve` on a config folder, started and stopped per phase; `start` returns
    once /health says the engine is linked to its PBX."""

    def __init__(
        self,
        config_dir: Path,
        work: Path,
        http_port: int,
        env: Mapping[str, str],
        trace: bool = False,
    ) -> None:
        self.config_dir = config_dir
        self.work = work
        self.http_port = http_port
        self.env = dict(env)
        self.trace = trace
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self) -> None:
        # the engine stores callers' numbers encrypted: a throwaway key file for the run
        keys = self.work / "data-keys.toml"
        if not keys.exists():
            write_key_file(keys)
        env = dict(os.environ, **self.env)
        env[FILE_ENV] = str(keys)
        log = (self.work / "engine.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "callcenter.cli", "--config", str(self.config_dir)]
            + (["--trace"] if self.trace else [])
            + ["serve", "--open-loopback", "--http-port", str(self.http_port)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120  # a loaded machine: imports and migrations are slow
        url = f"http://127.0.0.1:{self.http_port}/health"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the engine exited; see {self.work / 'engine.log'}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if json.loads(r.read()).get("ok"):
                        return
            except (OSError, urllib.error.URLError, ValueError):
                pass
            time.sleep(0.1)
        raise SystemExit("the engine did not link to the PBX within 120 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class PhaseResult:
    name: str
    calls: int
    completed: int
    join_ring: list[float]
    gaps: list[float]
    served_per_s: float
    cpu_pbx: float
    cpu_engine: float
    sipp_ok: int
    observed: Any


def served_per_second(joined: Mapping[str, float], answered: Mapping[str, float]) -> float:
    """Calls answered per second, from the first join to the last answer."""
    if not answered:
        return 0.0
    span = max(answered.values()) - min(joined.values())
    return len(answered) / span if span > 0 else 0.0


def ratio(a: float, b: float, lower_is_better: bool) -> str:
    """How a (the engine) compares with b (the baseline), in words."""
    if a == 0 or b == 0:
        return "-"
    r = b / a if lower_is_better else a / b
    if 0.97 <= r <= 1.03:
        return "same"
    return f"{r:.1f}x better" if r > 1 else f"{1 / r:.1f}x worse"


def table(engine: PhaseResult, base: PhaseResult, baseline: str, pbx: str) -> list[str]:
    """The markdown comparison: engine vs `baseline` (app_queue, mod_callcenter) on `pbx`."""

    def ms(values: list[float], q: float) -> float:
        return 1000 * (percentile(values, q) or 0.0)

    rows = [
        ("completed calls", engine.completed, base.completed, False, "{:d}"),
        ("join→ring p50 (ms)", ms(engine.join_ring, 50), ms(base.join_ring, 50), True, "{:.1f}"),
        ("join→ring p99 (ms)", ms(engine.join_ring, 99), ms(base.join_ring, 99), True, "{:.1f}"),
        ("agent idle gap p50 (ms)", ms(engine.gaps, 50), ms(base.gaps, 50), True, "{:.1f}"),
        ("agent idle gap p99 (ms)", ms(engine.gaps, 99), ms(base.gaps, 99), True, "{:.1f}"),
        ("calls served per second", engine.served_per_s, base.served_per_s, False, "{:.2f}"),
        (
            f"CPU s ({pbx} + engine)",
            engine.cpu_pbx + engine.cpu_engine,
            base.cpu_pbx,
            True,
            "{:.1f}",
        ),
    ]
    out = [f"| metric | engine | {baseline} | engine vs {baseline} |", "|---|---:|---:|---:|"]
    for label, a, b, lower, fmt in rows:
        out.append(f"| {label} | {fmt.format(a)} | {fmt.format(b)} | {ratio(a, b, lower)} |")
    out.append(
        f"| (CPU split: {pbx} / engine) | {engine.cpu_pbx:.1f} / {engine.cpu_engine:.1f}"
        f" | {base.cpu_pbx:.1f} / - | |"
    )
    return out
