"""Character error rate of an ASR model on reference recordings: the check for a Mandarin model.

Give it a Vosk model directory and a directory of ``NAME.wav`` + ``NAME.txt`` pairs (the .txt
holds the reference transcript, UTF-8). Every WAV is decoded with `Transcriber` (any supported
rate, 8 kHz PBX recordings included) and compared with its reference by character-level
Levenshtein distance, ignoring whitespace and punctuation (Vosk's Chinese models put spaces
between words; references usually carry ，。？). Prints per-file and total CER (total = all
character errors / all reference characters) and the real-time factor.

    python tools/asr_cer.py --model /srv/models/vosk-model-cn-0.22 data/asr-check/
    python tools/asr_cer.py --model DIR data/asr-check/ --max-cer 0.15   # exit 1 above 15 %

Numbers are compared as written: write references the way the model writes digits
(Vosk's Chinese models write 一二三, not 123).
"""

from __future__ import annotations

import argparse
import sys
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from callcenter.asr.errors import AsrError  # noqa: E402
from callcenter.asr.transcriber import Transcriber  # noqa: E402


def normalize(text: str) -> str:
    """NFKC (full-width to half-width), case-folded, without whitespace, punctuation, symbols."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] not in "PZSC")


def levenshtein(a: str, b: str) -> int:
    """Edit distance (substitutions, insertions, deletions each cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def char_errors(ref: str, hyp: str) -> tuple[int, int]:
    """(character errors, reference characters) after `normalize`."""
    r, h = normalize(ref), normalize(hyp)
    return levenshtein(r, h), len(r)


def cer(ref: str, hyp: str) -> float:
    """Character error rate: edits / reference characters (may exceed 1 with insertions).

    An empty (normalized) reference gives 0.0 for an empty hypothesis, else 1.0.
    """
    errors, n = char_errors(ref, hyp)
    if n == 0:
        return 0.0 if errors == 0 else 1.0
    return errors / n


@dataclass(frozen=True)
class FileResult:
    name: str
    ref_chars: int
    errors: int
    audio_seconds: float
    decode_seconds: float
    hypothesis: str

    @property
    def cer(self) -> float:
        return self.errors / self.ref_chars if self.ref_chars else float(self.errors > 0)


def evaluate(transcriber: Transcriber, data_dir: Path) -> list[FileResult]:
    pairs = sorted(p for p in data_dir.glob("*.wav") if p.with_suffix(".txt").is_file())
    if not pairs:
        raise SystemExit(f"no NAME.wav + NAME.txt pairs in {data_dir}")
    results: list[FileResult] = []
    for wav in pairs:
        reference = wav.with_suffix(".txt").read_text(encoding="utf-8")
        started = time.perf_counter()
        transcript = transcriber.transcribe(wav, "speaker")
        elapsed = time.perf_counter() - started
        errors, n = char_errors(reference, transcript.text)
        results.append(
            FileResult(wav.name, n, errors, transcript.duration, elapsed, transcript.text)
        )
    return results


def report(results: list[FileResult]) -> str:
    lines = [
        "| file | ref chars | errors | CER | audio s | decode s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.ref_chars} | {r.errors} | {r.cer:.3f} | {r.audio_seconds:.1f} "
            f"| {r.decode_seconds:.2f} |"
        )
    n = sum(r.ref_chars for r in results)
    errors = sum(r.errors for r in results)
    audio = sum(r.audio_seconds for r in results)
    wall = sum(r.decode_seconds for r in results)
    total = errors / n if n else 0.0
    lines.append("")
    lines.append(f"total CER: {total:.3f} ({errors} errors / {n} reference characters)")
    if audio > 0 and wall > 0:
        lines.append(
            f"real-time factor: {wall / audio:.3f} (decode s / audio s; "
            f"{audio / wall:.1f}x real time, one process)"
        )
    return "\n".join(lines)


def total_cer(results: list[FileResult]) -> float:
    n = sum(r.ref_chars for r in results)
    return sum(r.errors for r in results) / n if n else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("data", type=Path, help="directory of NAME.wav + NAME.txt pairs")
    parser.add_argument("--model", type=Path, required=True, help="Vosk model directory")
    parser.add_argument("--rate", type=int, default=16000, help="model sample rate")
    parser.add_argument("--max-cer", type=float, default=None, help="exit 1 above this CER")
    parser.add_argument("--show", action="store_true", help="print the hypotheses too")
    args = parser.parse_args(argv)
    try:
        transcriber = Transcriber(args.model, args.rate)
        results = evaluate(transcriber, args.data)
    except AsrError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report(results))
    if args.show:
        for r in results:
            print(f"{r.name}: {r.hypothesis}")
    if args.max_cer is not None and total_cer(results) > args.max_cer:
        print(f"FAIL: total CER above {args.max_cer}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
