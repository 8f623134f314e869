"""WAV reading, channel choice, band-limited resampling and level helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from callcenter.asr.audio import (
    StreamResampler,
    is_silent,
    load_for_model,
    read_wav,
    resample,
    rms,
    rms_dbfs,
    select_channel,
    write_wav,
)
from callcenter.asr.errors import AsrError


def tone(freq: float, rate: int, seconds: float, amp: float = 10000.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.rint(amp * np.sin(2 * np.pi * freq * t)).astype(np.int16)


@pytest.mark.parametrize(("src", "dst"), [(8000, 16000), (22050, 16000), (16000, 8000)])
def test_resample_keeps_a_tone_and_the_length(src: int, dst: int) -> None:
    x = tone(1000, src, 2.0)
    y = resample(x, src, dst)
    assert len(y) == len(x) * dst // src
    expected = 10000 * np.sin(2 * np.pi * 1000 * np.arange(len(y)) / dst)
    assert np.abs(y[100:-100] - expected[100:-100]).max() < 3


def test_downsampling_removes_frequencies_above_the_new_nyquist() -> None:
    y = resample(tone(10000, 22050, 1.0), 22050, 16000)  # 10 kHz > 8 kHz Nyquist
    assert rms(y) < 0.002 * rms(tone(10000, 22050, 1.0))


def test_streaming_resampler_matches_whole_file() -> None:
    rng = np.random.default_rng(7)
    x = rng.integers(-8000, 8000, 8000 * 3, dtype=np.int16)
    whole = resample(x, 8000, 16000)
    stream = StreamResampler(8000, 16000)
    parts = [stream.process(x[i : i + 240]) for i in range(0, len(x), 240)]
    parts.append(stream.flush())
    assert np.array_equal(np.concatenate(parts), whole)


def test_read_stereo_and_pick_a_channel(tmp_path: Path) -> None:
    left, right = tone(500, 8000, 0.5), tone(1500, 8000, 0.5, 3000)
    path = tmp_path / "stereo.wav"
    write_wav(path, np.stack([left, right], axis=1), 8000)
    audio = read_wav(path)
    assert (audio.rate, audio.channels, audio.frames) == (8000, 2, 4000)
    assert np.array_equal(select_channel(audio, 0), left)
    assert np.array_equal(select_channel(audio, 1), right)
    mixed = select_channel(audio, None)
    assert np.abs(mixed.astype(int) - (left.astype(int) + right) / 2).max() <= 1
    with pytest.raises(AsrError) as info:
        select_channel(audio, 2)
    assert info.value.error_id == "asr.audio_format"
    pcm = load_for_model(path, 16000, channel=1)
    assert len(pcm) == 2 * 8000


def test_unreadable_and_unsupported_files_are_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.wav"
    with pytest.raises(AsrError) as info:
        read_wav(missing)
    assert info.value.error_id == "asr.audio_unreadable"
    assert str(missing) in str(info.value)
    odd = tmp_path / "odd.wav"
    write_wav(odd, tone(440, 11025, 0.1), 11025)
    with pytest.raises(AsrError) as info:
        read_wav(odd)
    assert info.value.error_id == "asr.audio_format"
    assert "11025" in str(info.value)


def test_levels_and_silence() -> None:
    assert rms(np.zeros(100, dtype=np.int16)) == 0.0
    assert rms_dbfs(b"") == -np.inf
    assert is_silent(np.zeros(800, dtype=np.int16))
    assert is_silent(tone(440, 8000, 0.1, amp=50))  # about -56 dBFS
    assert not is_silent(tone(440, 8000, 0.1, amp=3000))
    assert not is_silent(tone(440, 8000, 0.1, amp=3000).astype("<i2").tobytes())
    assert abs(rms_dbfs(tone(1000, 8000, 1.0, amp=32767)) - (-3.01)) < 0.05
