"""Synthetic test speech: Korean hotline talk spoken by espeak-ng (for tests and benchmarks).

The only real model available here is Vosk's small Korean model, so tests and `bench_asr` use
Korean sentences a hotline caller and agent might say, synthesized with the Debian
``espeak-ng`` package and assembled into call legs with pauses between sentences (so the
recognizer's endpointing produces several segments per leg).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np

from callcenter.asr.audio import Int16Array, read_wav, resample, select_channel, write_wav
from callcenter.asr.errors import AsrError

CALLER_SENTENCES: tuple[str, ...] = (
    "안녕하세요 민원을 접수하고 싶어서 전화했습니다",
    "우리 집 앞 도로에 큰 구멍이 생겼어요",
    "어제부터 수도 물이 나오지 않습니다",
    "아파트 관리비가 너무 많이 나왔어요",
    "밤마다 공사 소음 때문에 잠을 잘 수가 없습니다",
    "가게에서 산 음식이 상해 있었어요",
    "회사에서 월급을 석 달째 주지 않고 있습니다",
    "버스 정류장 가로등이 고장 났어요",
    "주소는 중앙로 십이 번지입니다",
    "언제쯤 처리가 될까요",
)

AGENT_SENTENCES: tuple[str, ...] = (
    "네 십이삼사오 민원 상담센터입니다 무엇을 도와드릴까요",
    "불편을 드려서 죄송합니다",
    "성함과 연락처를 말씀해 주시겠어요",
    "정확한 주소를 알려 주세요",
    "담당 부서에 바로 전달하겠습니다",
    "삼 일 안에 담당자가 연락을 드릴 예정입니다",
    "접수 번호는 문자로 보내 드리겠습니다",
    "다른 문의 사항은 없으신가요",
    "현장 확인 후에 결과를 알려 드리겠습니다",
    "전화해 주셔서 감사합니다 좋은 하루 되세요",
)


def espeak_path() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        raise AsrError("espeak-ng is not installed (Debian package espeak-ng)", "asr.synth_missing")
    return path


def synthesize(text: str, out: Path, voice: str = "ko", speed: int = 150) -> Path:
    """Speak `text` into `out` (22050 Hz mono 16-bit WAV, as espeak-ng writes it)."""
    subprocess.run(
        [espeak_path(), "-v", voice, "-s", str(speed), "-w", str(out), text],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return out


def build_leg(
    sentences: tuple[str, ...] | list[str],
    out: Path,
    work_dir: Path,
    rate: int = 16000,
    gap: float = 1.0,
    min_seconds: float = 0.0,
) -> float:
    """Synthesize sentences, join them with `gap` s of silence, write `out` at `rate`.

    Sentences repeat until the leg is at least `min_seconds` long. Returns the duration (s).
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    pieces: list[Int16Array] = []
    silence = np.zeros(int(gap * rate), dtype=np.int16)
    total = 0
    index = 0
    while index < len(sentences) or total < min_seconds * rate:
        text = sentences[index % len(sentences)]
        wav = work_dir / f"say-{hashlib.sha1(text.encode()).hexdigest()[:12]}.wav"
        if not wav.exists():
            synthesize(text, wav)
        audio = read_wav(wav)
        speech = resample(select_channel(audio), audio.rate, rate)
        pieces.extend([silence, speech])
        total += len(speech) + len(silence)
        index += 1
    pieces.append(silence)
    samples = np.concatenate(pieces)
    write_wav(out, samples, rate)
    return len(samples) / rate
