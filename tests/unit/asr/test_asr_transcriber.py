"""Transcriber and StreamingSession on the real Vosk Korean model and espeak-ng speech.

The small Korean model recognizes espeak-ng's robotic voice poorly (measured CER against the
reference sentences: about 0.8 at 16 kHz), so the tests check structure, determinism and
agreement between variants of the same audio, not the wording.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from callcenter.asr.audio import StreamResampler, read_wav, select_channel
from callcenter.asr.errors import AsrError
from callcenter.asr.transcriber import Partial, Segment, Transcriber, Transcript
from tools.asr_cer import cer

if TYPE_CHECKING:
    from tests.unit.asr.conftest import Speech

HANGUL = re.compile(r"[\uac00-\ud7a3]")


def speech_cover(t: Transcript, step: float = 0.05) -> set[int]:
    """Time slots (of `step` s) covered by segments."""
    return {i for s in t.segments for i in range(int(s.start / step), int(s.end / step) + 1)}


def test_segments_are_timed_and_ordered(transcriber: Transcriber, speech: Speech) -> None:
    t = transcriber.transcribe(speech.caller16, "caller")
    assert t.duration == pytest.approx(speech.caller16_s, abs=0.01)
    # Four sentences with 1 s pauses: the recognizer closes several utterances.
    assert len(t.segments) >= 2
    starts = [s.start for s in t.segments]
    assert starts == sorted(starts)
    for before, after in zip(t.segments, t.segments[1:], strict=False):
        assert before.end <= after.start
    for s in t.segments:
        assert s.speaker == "caller"
        assert 0.0 <= s.start < s.end <= t.duration
        assert 0.0 < s.confidence <= 1.0
        assert s.words and s.words[0].start == s.start and s.words[-1].end == s.end
        assert s.text == " ".join(w.word for w in s.words)
    # The first sentence starts after the 1 s leading pause.
    assert t.segments[0].start >= 0.8


def test_words_lie_within_the_audio(transcriber: Transcriber, speech: Speech) -> None:
    t = transcriber.transcribe(speech.caller16, "caller")
    assert len(t.words) >= 8
    previous = 0.0
    for w in t.words:
        assert 0.0 <= w.start <= w.end <= speech.caller16_s
        assert w.start >= previous - 1e-6
        assert 0.0 <= w.conf <= 1.0
        previous = w.start


def test_text_is_hangul(transcriber: Transcriber, speech: Speech) -> None:
    text = transcriber.transcribe(speech.caller16, "caller").text.replace(" ", "")
    hangul = len(HANGUL.findall(text))
    # The model sometimes emits tokens such as "[1]" or a Latin letter; most must be Hangul.
    assert hangul >= 0.8 * len(text), text


def test_decoding_is_deterministic(transcriber: Transcriber, speech: Speech) -> None:
    first = transcriber.transcribe(speech.caller8, "caller")
    second = transcriber.transcribe(speech.caller8, "caller")
    assert first == second
    assert Transcript.from_dict(first.to_dict()) == first


def test_silence_gives_no_segments(transcriber: Transcriber, speech: Speech) -> None:
    t = transcriber.transcribe(speech.silence, "caller")
    assert t.segments == ()
    assert t.duration == pytest.approx(4.0)


def test_22khz_input_is_resampled(transcriber: Transcriber, speech: Speech) -> None:
    t = transcriber.transcribe(speech.caller22, "caller")
    assert t.segments and HANGUL.search(t.text)


def test_8khz_recording_agrees_with_16khz(transcriber: Transcriber, speech: Speech) -> None:
    """What the PBX records (8 kHz) against the wide-band original of the same speech.

    Measured here (reseeded, reproducible): CER(16 kHz hypothesis, 8 kHz hypothesis) = 0.89,
    the same as CER between this leg and an unrelated agent leg (0.89); against the reference
    sentences the hypotheses score about 0.8-0.9. The small Korean model barely recognizes
    espeak-ng's voice, so its wording flips with any change of the signal and a text threshold
    such as < 0.5 cannot hold even for a correct pipeline. What is stable, and what this test
    checks: the same speech regions are found (time coverage overlap >= 0.8), the number of
    utterances agrees within one, and the text stays below CER 0.95 (a loose sanity bound:
    a broken resampler, e.g. 8 kHz played as 16 kHz, gives no overlap of regions).
    """
    wide = transcriber.transcribe(speech.caller16, "caller")
    narrow = transcriber.transcribe(speech.caller8, "caller")
    a, b = speech_cover(wide), speech_cover(narrow)
    overlap = len(a & b) / len(a | b)
    assert overlap >= 0.8, overlap
    assert abs(len(wide.segments) - len(narrow.segments)) <= 1
    same = cer(wide.text, narrow.text)
    assert same < 0.95, (same, wide.text, narrow.text)


def test_transcribe_call_merges_legs_by_time(transcriber: Transcriber, speech: Speech) -> None:
    call = transcriber.transcribe_call({"caller": speech.caller8, "agent": speech.agent8})
    caller = transcriber.transcribe(speech.caller8, "caller")
    agent = transcriber.transcribe(speech.agent8, "agent")
    assert set(call.segments) == set(caller.segments) | set(agent.segments)
    assert [s.start for s in call.segments] == sorted(s.start for s in call.segments)
    assert {s.speaker for s in call.segments} == {"caller", "agent"}
    assert call.speakers == ("caller", "agent")
    assert call.duration == max(caller.duration, agent.duration)
    assert call.text_of("agent") == agent.text


def test_streaming_session_on_audiosocket_frames(transcriber: Transcriber, speech: Speech) -> None:
    """8 kHz slin in 480-byte frames (30 ms), as AudioSocket delivers it."""
    audio = read_wav(speech.caller8)
    pcm = select_channel(audio).astype("<i2").tobytes()
    session = transcriber.stream("caller", input_rate=8000)
    events: list[Partial | Segment] = []
    for offset in range(0, len(pcm), 480):
        events.extend(session.feed(pcm[offset : offset + 480]))
    finals = session.finish()
    partials = [e for e in events if isinstance(e, Partial)]
    segments = [e for e in events if isinstance(e, Segment)] + finals
    assert partials and all(p.speaker == "caller" and p.text for p in partials)
    assert len(segments) >= 2
    assert segments == session.segments
    assert [s.start for s in segments] == sorted(s.start for s in segments)
    assert all(s.end <= speech.caller8_s for s in segments)
    batch = transcriber.transcribe(speech.caller8, "caller")
    streamed = " ".join(s.text for s in segments)
    # Same resampled samples, different chunking of the recognizer input: close, maybe equal.
    assert cer(batch.text, streamed) < 0.5, (batch.text, streamed)
    with pytest.raises(AsrError):
        session.feed(pcm[:480])


async def test_streaming_feed_async(transcriber: Transcriber, speech: Speech) -> None:
    audio = read_wav(speech.caller8)
    pcm = select_channel(audio).astype("<i2").tobytes()
    session = transcriber.stream("agent", input_rate=8000)
    seen: list[Partial | Segment] = []
    for offset in range(0, len(pcm), 8000):
        seen.extend(await session.feed_async(pcm[offset : offset + 8000]))
    seen.extend(session.finish())
    assert any(isinstance(e, Segment) for e in seen)


def test_streaming_16khz_input_needs_no_resampling(transcriber: Transcriber) -> None:
    session = transcriber.stream("caller", input_rate=16000)
    assert session.feed(np.zeros(1600, dtype="<i2").tobytes()) == []
    assert session.finish() == []
    assert isinstance(session._resampler, StreamResampler)


def test_missing_model_dir_names_the_dir(tmp_path: Path) -> None:
    missing = tmp_path / "models" / "vosk-model-cn"
    with pytest.raises(AsrError) as info:
        Transcriber(missing)
    assert info.value.error_id == "asr.model_missing"
    assert str(missing) in str(info.value)


def test_invalid_model_dir_names_the_dir(tmp_path: Path) -> None:
    (tmp_path / "am").mkdir()
    with pytest.raises(AsrError) as info:
        Transcriber(tmp_path)
    assert info.value.error_id == "asr.model_invalid"
    assert str(tmp_path) in str(info.value)
    (tmp_path / "am" / "final.mdl").write_bytes(b"not a model")
    with pytest.raises(AsrError) as info:
        Transcriber(tmp_path)
    assert info.value.error_id == "asr.model_invalid"
    assert str(tmp_path) in str(info.value)
