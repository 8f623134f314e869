"""Drive real SIP endpoints against the sandbox: pjsua2 softphone processes and sipp callers.

Used by `callcenter demo`, the integration tests and the benchmarks. Each softphone process
(tools/softphone.py) holds up to 4 calls (a pjsua2-python limit), so agents are spread over
processes two by two.
"""

from __future__ import annotations

import json
import math
import queue
import struct
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from callcenter.errors import CallcenterError
from callcenter.paths import REPO
from callcenter.pbx.registry import Sandbox

SOFTPHONE = REPO / "tools" / "softphone.py"
SIPP_SCENARIO = REPO / "tools" / "sipp" / "caller.xml"

Event = dict[str, Any]


class SimulationError(CallcenterError):
    error_id = "simulation.error"


class Softphone:
    """One softphone process with one or more accounts."""

    def __init__(
        self,
        registrar: str,
        port: int,
        accounts: Iterable[tuple[str, str]],
        play: str = "",
        record_dir: str = "",
        rtp_port: int = 0,
        answer_delay: float = 0.2,
        talk: tuple[float, float] | None = None,
        seed: int = 0,
    ) -> None:
        self.accounts = list(accounts)
        args = [
            sys.executable,
            str(SOFTPHONE),
            "--registrar",
            registrar,
            "--port",
            str(port),
            "--answer-delay",
            str(answer_delay),
        ]
        for user, password in self.accounts:
            args += ["--account", f"{user}:{password}"]
        if play:
            args += ["--play", play]
        if record_dir:
            args += ["--record-dir", record_dir]
        if rtp_port:
            args += ["--rtp-port", str(rtp_port)]
        if talk:
            args += ["--talk", f"{talk[0]}:{talk[1]}"]
        if seed:
            args += ["--seed", str(seed)]
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.events: queue.Queue[Event] = queue.Queue()
        self.history: list[Event] = []
        self._lock = threading.RLock()  # predicates may call seen()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            with self._lock:
                self.history.append(event)
            self.events.put(event)
        self.events.put({"event": "exited", "code": self.proc.wait()})

    def send(self, **command: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def wait_for(self, predicate: Callable[[Event], bool], timeout: float = 20.0) -> Event:
        """The first event (past or future) matching; raise SimulationError at the timeout."""
        with self._lock:
            for event in self.history:
                if predicate(event):
                    return event
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SimulationError(
                    f"softphone {self.accounts}: no matching event in {timeout} s"
                )
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if event.get("event") == "exited":
                stderr = self.proc.stderr.read() if self.proc.stderr else ""
                raise SimulationError(f"softphone exited: {stderr[-2000:]}")
            if predicate(event):
                return event

    def seen(self, predicate: Callable[[Event], bool]) -> list[Event]:
        with self._lock:
            return [e for e in self.history if predicate(e)]

    def wait_registered(self, timeout: float = 20.0) -> None:
        for user, password in self.accounts:
            if password:
                self.wait_for(partial(_registered, user), timeout)

    def answer_mode(
        self, user: str, mode: str, delay: float | None = None, code: int = 486
    ) -> None:
        """answer, ignore (ring on) or reject with the SIP response `code`."""
        command: dict[str, Any] = {"cmd": "answer_mode", "user": user, "mode": mode, "code": code}
        if delay is not None:
            command["delay"] = delay
        self.send(**command)

    def call(self, user: str, to: str, play: str | None = None) -> None:
        """Place a call; it plays `play` (default: the process's --play file)."""
        if play is None:
            self.send(cmd="call", user=user, to=to)
        else:
            self.send(cmd="call", user=user, to=to, play=play)

    def dtmf(self, user: str, digits: str) -> None:
        """Send DTMF (RFC 4733 events) on the account's active call."""
        self.send(cmd="dtmf", user=user, digits=digits)

    def transfer(self, user: str, to: str) -> None:
        """Blind-transfer the account's active call (SIP REFER) to extension `to`."""
        self.send(cmd="transfer", user=user, to=to)

    def hangup(self, user: str) -> None:
        self.send(cmd="hangup", user=user)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send(cmd="quit")
                self.proc.wait(timeout=15)  # it ends its calls first (up to 5 s)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def agent_phones(
    registrar: str,
    agents: Iterable[tuple[str, str]],
    port: int,
    rtp_port: int,
    rtp_stride: int = 200,
    **options: Any,
) -> dict[str, Softphone]:
    """Registered softphone processes for (extension, password) agents, two agents a process
    (pjsua2's 4 calls a process): the pair from agent i on listens on SIP port `port + i`, its
    RTP ports from `rtp_port + rtp_stride * i` (40 an agent). `options` go to Softphone.
    Returns extension -> its process."""
    accounts = list(agents)
    phones: dict[str, Softphone] = {}
    for i in range(0, len(accounts), 2):
        phone = Softphone(
            registrar,
            port=port + i,
            accounts=accounts[i : i + 2],
            rtp_port=rtp_port + rtp_stride * i,
            **options,
        )
        for user, _ in accounts[i : i + 2]:
            phones[user] = phone
    for phone in set(phones.values()):
        phone.wait_registered()
    return phones


@dataclass(frozen=True)
class SippResult:
    returncode: int
    successful: int
    failed: int
    stdout: str


class Sipp:
    """sipp callers from the sandbox root (it carries sipp and its sample A-law speech)."""

    def __init__(self, instance: Sandbox, local_port: int = 16500) -> None:
        self.instance = instance
        self.local_port = local_port
        self.proc: subprocess.Popen[str] | None = None
        self._workdir = instance.dir / "sipp"

    def start(
        self,
        calls: Iterable[tuple[str, str]],
        rate: float,
        patience: float = 120.0,
        limit: int = 2000,
        rtp_port: int = 0,
    ) -> None:
        """Place one call per (did, caller number), `rate` calls per second."""
        rows = list(calls)
        if not rows:
            raise SimulationError("no calls to place")
        self._workdir.mkdir(parents=True, exist_ok=True)
        scenario = SIPP_SCENARIO.read_text().replace("@PATIENCE_MS@", str(int(patience * 1000)))
        (self._workdir / "caller.xml").write_text(scenario)
        csv = "SEQUENTIAL\n" + "".join(f"{did};{number};\n" for did, number in rows)
        (self._workdir / "calls.csv").write_text(csv)
        inner = f"{self.instance.inner}/sipp"
        args = [
            "chroot",
            str(self.instance.root),
            "/usr/bin/sipp",
            f"{self.instance.host}:{self.instance.sip_port}",
            "-sf",
            f"{inner}/caller.xml",
            "-inf",
            f"{inner}/calls.csv",
            "-i",
            self.instance.host,
            "-p",
            str(self.local_port),
            "-m",
            str(len(rows)),
            "-r",
            str(rate),
            "-l",
            str(limit),
            "-nostdin",
            "-trace_stat",
            "-stf",
            f"{inner}/stats.csv",
            "-max_recv_loops",
            "10000",
            "-timeout_error",
        ]
        if rate < 1:
            args[args.index("-r") + 1] = str(max(1, int(rate * 1000)))
            args += ["-rp", "1000000"]
        if rtp_port:
            args += ["-mp", str(rtp_port)]
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def wait(self, timeout: float = 600.0) -> SippResult:
        if self.proc is None:
            raise SimulationError("sipp was not started")
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        successful, failed = _sipp_counts(self._workdir / "stats.csv")
        return SippResult(self.proc.returncode, successful, failed, out or "")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _sipp_counts(stats: Path) -> tuple[int, int]:
    try:
        lines = stats.read_text().strip().splitlines()
    except OSError:
        return (0, 0)
    if len(lines) < 2:
        return (0, 0)
    header = lines[0].split(";")
    last = lines[-1].split(";")
    values = dict(zip(header, last, strict=False))
    return (int(values.get("SuccessfulCall(C)", 0)), int(values.get("FailedCall(C)", 0)))


def write_tone(path: Path, frequency: float, seconds: float = 30.0, amplitude: int = 8000) -> Path:
    """A steady sine (8 kHz, 16-bit mono): each direction of a call gets its own frequency."""
    rate = 8000
    n = int(rate * seconds)
    step = 2 * math.pi * frequency / rate
    frames = b"".join(struct.pack("<h", int(amplitude * math.sin(step * i))) for i in range(n))
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return path


def dominant_frequency(path: Path, skip: float = 0.5) -> tuple[float, float]:
    """(peak frequency in Hz, RMS level) of a WAV, skipping its first `skip` seconds."""
    import numpy as np

    with wave.open(str(path), "rb") as w:
        rate = w.getframerate()
        width = w.getsampwidth()
        channels = w.getnchannels()
        raw = w.readframes(w.getnframes())
    if width != 2:
        raise SimulationError(f"{path}: expected 16-bit audio, got {8 * width}-bit")
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float64)
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    samples = samples[int(skip * rate) :]
    if samples.size < rate // 4:
        return (0.0, 0.0)
    rms = float(np.sqrt(np.mean(samples**2)))
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    freqs = np.fft.rfftfreq(samples.size, 1.0 / rate)
    spectrum[freqs < 60] = 0
    return (float(freqs[int(np.argmax(spectrum))]), rms)


def _registered(user: str, event: Event) -> bool:
    return (
        event.get("event") == "registered"
        and event.get("user") == user
        and event.get("code") == 200
    )
