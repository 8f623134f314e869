"""Event-socket client cost, against the sandbox FreeSWITCH: import time and receive rate.

Usage: python tools/bench_esl.py [--events 20000] [--rounds 2]

Baselines in the same invocation (ratios printed, never absolute thresholds):
- import: `import asyncio` vs importing the client once asyncio is in (in-process, best of 5);
- receive: a raw reader that only splits the stream into messages (headers + Content-Length
  body, no decoding) vs the client (JSON decode, EslEvent, ordered queue, async iteration),
  each counting N CUSTOM events that a separate sender process fires with `sendevent`.
  Receiver CPU per event is the figure that matters (the sender and FreeSWITCH share the
  machine); rounds alternate raw and client to spread the machine's load over both.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from callcenter.pbx.freeswitch.esl import EslClient, _read_message  # noqa: E402
from callcenter.pbx.freeswitch.sandbox import Instance, ensure_root  # noqa: E402
from tests.integration.ports import CONTROL  # noqa: E402  (the slot's, as the test harness)

SUBCLASS = "cc::bench"


def instance() -> Instance:
    return Instance(
        name="bench",
        sip_port=CONTROL + 510,
        esl_port=CONTROL + 522,
        rtp_start=CONTROL + 900,
        rtp_end=CONTROL + 999,
        root=ensure_root(),
    )


def import_seconds(module: str, before: str = "", runs: int = 5) -> float:
    """Best of `runs` fresh interpreters: the time `import module` takes in-process (after
    `before` is imported), so interpreter start-up and the machine's load weigh less."""
    code = (
        f"import time{', ' + before if before else ''}\n"
        f"t = time.perf_counter()\nimport {module}\nprint(time.perf_counter() - t)"
    )
    best = float("inf")
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code],
            check=True,
            capture_output=True,
            text=True,
            cwd=Path(__file__).parents[1],
        ).stdout
        best = min(best, float(out.strip()))
    return best


async def send(port: int, password: str, count: int, tag: str) -> None:
    """The sender (its own process): `count` events, pipelined 200 at a time."""
    async with EslClient("127.0.0.1", port, password, events=("BACKGROUND_JOB",)) as client:
        for base in range(0, count, 200):
            await asyncio.gather(
                *(
                    client.command(
                        f"sendevent CUSTOM\nEvent-Subclass: {SUBCLASS}\ncc-run: {tag}\ncc-seq: {i}"
                    )
                    for i in range(base, min(base + 200, count))
                )
            )


def start_sender(fs: Instance, count: int, tag: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, __file__, "--send", str(count), "--tag", tag, "--port", str(fs.esl_port)],
        env={**os.environ, "CC_BENCH_ESL_PASSWORD": fs.esl_password},
    )


async def receive_raw(fs: Instance, count: int, tag: str) -> tuple[float, float]:
    reader, writer = await asyncio.open_connection(fs.host, fs.esl_port)
    await _read_message(reader)
    writer.write(f"auth {fs.esl_password}\n\n".encode())
    await _read_message(reader)
    writer.write(f"event json CUSTOM {SUBCLASS}\n\n".encode())
    await _read_message(reader)
    sender = start_sender(fs, count, tag)
    seen = 0
    wall = cpu = 0.0
    while seen < count:
        headers, body = await _read_message(reader)
        if headers.get("Content-Type") == "text/event-json" and tag in body:
            if seen == 0:
                wall, cpu = time.perf_counter(), time.process_time()
            seen += 1
    result = (time.perf_counter() - wall, time.process_time() - cpu)
    writer.close()
    sender.wait()
    return result


async def receive_client(fs: Instance, count: int, tag: str) -> tuple[float, float]:
    client = EslClient(fs.host, fs.esl_port, fs.esl_password, events=(f"CUSTOM {SUBCLASS}",))
    await client.connect()
    sender = start_sender(fs, count, tag)
    seen = 0
    wall = cpu = 0.0
    seq = -1
    async for event in client.events():
        if event.get("cc-run") != tag:
            continue
        if seen == 0:
            wall, cpu = time.perf_counter(), time.process_time()
        assert int(event.get("cc-seq")) > seq, "events out of order"
        seq = int(event.get("cc-seq"))
        seen += 1
        if seen == count:
            break
    result = (time.perf_counter() - wall, time.process_time() - cpu)
    await client.close()
    sender.wait()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--send", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.send:
        asyncio.run(send(args.port, os.environ["CC_BENCH_ESL_PASSWORD"], args.send, args.tag))
        return

    base = import_seconds("asyncio")
    esl = import_seconds("callcenter.pbx.freeswitch.esl", before="asyncio")
    print(f"import: asyncio {base * 1000:.1f} ms; the ESL client after it {esl * 1000:.1f} ms")
    print(f"  ratio client/asyncio: {esl / base:.2f} (the engine imports asyncio anyway)")

    fs = instance()
    fs.start()
    try:
        totals = {"raw": [0.0, 0.0], "client": [0.0, 0.0]}
        for r in range(args.rounds):
            for kind, fn in (("raw", receive_raw), ("client", receive_client)):
                wall, cpu = asyncio.run(fn(fs, args.events, f"{kind}{r}"))
                totals[kind][0] += wall
                totals[kind][1] += cpu
                print(
                    f"round {r + 1} {kind:6}: {args.events / wall:8.0f} events/s wall, "
                    f"{cpu / args.events * 1e6:6.1f} us CPU per event"
                )
        n = args.events * args.rounds
        raw_cpu, client_cpu = totals["raw"][1] / n, totals["client"][1] / n
        raw_rate, client_rate = n / totals["raw"][0], n / totals["client"][0]
        print(
            f"receive: raw {raw_rate:.0f}/s ({raw_cpu * 1e6:.1f} us CPU/event), "
            f"client {client_rate:.0f}/s ({client_cpu * 1e6:.1f} us CPU/event)"
        )
        print(
            f"  ratio client/raw: rate {client_rate / raw_rate:.2f}, "
            f"CPU per event {client_cpu / raw_cpu:.2f}"
        )
    finally:
        fs.stop()


if __name__ == "__main__":
    main()
