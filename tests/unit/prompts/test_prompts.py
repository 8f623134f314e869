"""Mandarin prompts from text: pinyin with tones (polyphonic characters by phrase, digits as a
hotline reads them), real espeak-ng synthesis to 8 kHz WAV, recorded overrides, rebuild only
when the text changed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from callcenter.asr.audio import is_silent, read_wav
from callcenter.prompts import build_prompts, spoken_digits, synthesize, to_pinyin


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12345", "幺二三四五"),
        ("按1", "按一"),
        ("按0转人工", "按零转人工"),
        ("请拨打110", "请拨打幺幺零"),
        ("没有数字", "没有数字"),
    ],
)
def test_digits_are_read_like_a_hotline(text: str, expected: str) -> None:
    assert spoken_digits(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("您好", "nin2 hao3"),
        ("银行", "yin2 hang2"),  # 行 by phrase: háng here ...
        ("行走", "xing2 zou3"),  # ... xíng here
        ("重新", "chong2 xin1"),
        ("按1", "an4 yi1"),
        ("咨询，请按1。", "zi1 xun2, qing3 an4 yi1,"),
    ],
)
def test_pinyin_has_tones_and_resolves_polyphones(text: str, expected: str) -> None:
    assert to_pinyin(text) == expected


def test_synthesized_prompt_is_8khz_speech(tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed (Debian package espeak-ng)")
    seconds = synthesize("您好，欢迎致电12345政务服务便民热线", tmp_path / "welcome.wav")
    audio = read_wav(tmp_path / "welcome.wav")
    assert audio.rate == 8000 and abs(len(audio.samples) / 8000 - seconds) < 0.01
    assert 2.0 < seconds < 15.0
    assert not is_silent(audio.samples)


def test_build_uses_recordings_and_rebuilds_only_changed_text(tmp_path: Path) -> None:
    out, recorded = tmp_path / "out", tmp_path / "recorded"
    recorded.mkdir()
    (recorded / "goodbye.wav").write_bytes(b"RIFF-recorded-by-a-person")
    prompts = {"welcome": "欢迎致电", "goodbye": "再见"}
    first = {b.prompt_id: b.how for b in build_prompts(prompts, out, recorded)}
    assert first == {"welcome": "synthesized", "goodbye": "recorded"}
    assert (out / "goodbye.wav").read_bytes() == b"RIFF-recorded-by-a-person"
    again = {b.prompt_id: b.how for b in build_prompts(prompts, out, recorded)}
    assert again["welcome"] == "unchanged"
    changed = {b.prompt_id: b.how for b in build_prompts({"welcome": "欢迎您"}, out)}
    assert changed == {"welcome": "synthesized"}
