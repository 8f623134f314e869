"""Vosk (Kaldi) recognition of call recordings and of live audio.

`Transcriber` loads a model once and decodes WAV files into a `Transcript`: timed segments
(one per recognizer result, i.e. per endpoint the recognizer detects in the speech) with a
speaker label and per-word times and confidences. `transcribe_call` decodes each leg of a call
(``{"caller": rx.wav, "agent": tx.wav}``) and merges them by time.

`StreamingSession` decodes live PCM (8 kHz slin from AudioSocket, or any rate) as it arrives
and returns partial hypotheses and final segments.

Decoding is CPU-bound and blocks: call it from worker processes (`callcenter.asr.worker`) or
from a thread, never on the asyncio event loop.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from callcenter.asr.audio import StreamResampler, load_for_model, pcm_to_array
from callcenter.asr.errors import AsrError

if TYPE_CHECKING:
    import vosk

CHUNK_SECONDS = 0.25  # audio fed to the recognizer per AcceptWaveform call (file decoding)


@dataclass(frozen=True)
class Word:
    start: float  # seconds from the start of the leg / stream
    end: float
    word: str
    conf: float  # 0..1, as reported by the decoder


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    speaker: str  # e.g. "caller", "agent"
    confidence: float  # mean word confidence
    words: tuple[Word, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "speaker": self.speaker,
            "confidence": self.confidence,
            "words": [
                {"start": w.start, "end": w.end, "word": w.word, "conf": w.conf} for w in self.words
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Segment:
        return cls(
            start=float(data["start"]),
            end=float(data["end"]),
            text=str(data["text"]),
            speaker=str(data["speaker"]),
            confidence=float(data["confidence"]),
            words=tuple(
                Word(float(w["start"]), float(w["end"]), str(w["word"]), float(w["conf"]))
                for w in data.get("words", ())
            ),
        )


@dataclass(frozen=True)
class Transcript:
    """Segments ordered by start time; `duration` is the longest leg's audio length (s)."""

    segments: tuple[Segment, ...]
    duration: float
    speakers: tuple[str, ...] = field(default=())

    @property
    def words(self) -> tuple[Word, ...]:
        return tuple(w for s in self.segments for w in s.words)

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments)

    def text_of(self, speaker: str) -> str:
        return " ".join(s.text for s in self.segments if s.speaker == speaker)

    def to_dict(self) -> dict[str, Any]:
        return {
            "duration": self.duration,
            "speakers": list(self.speakers),
            "segments": [s.to_dict() for s in self.segments],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transcript:
        return cls(
            segments=tuple(Segment.from_dict(s) for s in data["segments"]),
            duration=float(data["duration"]),
            speakers=tuple(str(s) for s in data.get("speakers", ())),
        )

    @classmethod
    def merge(cls, parts: Iterable[Transcript]) -> Transcript:
        """Merge per-leg transcripts into one, ordered by (start, end, speaker)."""
        items = list(parts)
        segments = sorted(
            (s for t in items for s in t.segments), key=lambda s: (s.start, s.end, s.speaker)
        )
        speakers = tuple(dict.fromkeys(sp for t in items for sp in t.speakers))
        duration = max((t.duration for t in items), default=0.0)
        return cls(segments=tuple(segments), duration=duration, speakers=speakers)


@dataclass(frozen=True)
class Partial:
    """A live, not yet final hypothesis for the current utterance (changes as audio arrives)."""

    text: str
    speaker: str


def check_model_dir(model_dir: Path) -> None:
    """Cheap validation of a Vosk model directory; raises `AsrError` naming the directory."""
    if not model_dir.exists():
        raise AsrError(f"ASR model directory {model_dir} does not exist", "asr.model_missing")
    if not model_dir.is_dir():
        raise AsrError(f"ASR model path {model_dir} is not a directory", "asr.model_missing")
    if not ((model_dir / "am" / "final.mdl").is_file() or (model_dir / "final.mdl").is_file()):
        raise AsrError(
            f"ASR model directory {model_dir} is not a Vosk model (no am/final.mdl or final.mdl)",
            "asr.model_invalid",
        )


def _vosk() -> ModuleType:
    """The Vosk module, imported on first use: it is the optional `asr` extra."""
    try:
        import vosk
    except ImportError as exc:
        raise AsrError(
            "speech recognition needs Vosk: pip install 'callcenter[asr]'", "asr.not_installed"
        ) from exc
    module: ModuleType = vosk
    return module


def load_model(model_dir: Path) -> vosk.Model:
    """Load a Vosk model with Vosk's logging silenced; `AsrError` on any failure."""
    check_model_dir(model_dir)
    vosk = _vosk()
    vosk.SetLogLevel(-1)
    try:
        return vosk.Model(str(model_dir))
    except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
        raise AsrError(
            f"ASR model directory {model_dir} could not be loaded: {exc}", "asr.model_invalid"
        ) from exc


def _libc_srand() -> Callable[[int], object] | None:
    try:
        name = ctypes.util.find_library("c")
        if not name:
            return None
        srand: Callable[[int], object] = ctypes.CDLL(name).srand
        return srand
    except (OSError, AttributeError):  # pragma: no cover - non-glibc platforms
        return None


_SRAND = _libc_srand()


def reseed() -> None:
    """Reset the C library's `rand()` state before a decode.

    Kaldi inside Vosk draws from libc `rand()` while decoding, so without this a second decode
    of the same audio in the same process can differ (measured here: 4 decodes, 4 different
    results). Seeding before each file makes file decoding reproducible: the same audio gives
    the same transcript in any process. Concurrent streams in threads share the state and
    are not reproducible; that is acceptable for live partials.
    """
    if _SRAND is not None:
        _SRAND(0)


def _segment_from_result(raw: str, speaker: str) -> Segment | None:
    data = json.loads(raw)
    words = tuple(
        Word(
            start=round(float(w["start"]), 3),
            end=round(float(w["end"]), 3),
            word=str(w["word"]),
            conf=round(float(w.get("conf", 1.0)), 4),
        )
        for w in data.get("result", ())
    )
    text = str(data.get("text", "")).strip()
    if not words or not text:
        return None
    confidence = round(sum(w.conf for w in words) / len(words), 4)
    return Segment(
        start=words[0].start,
        end=words[-1].end,
        text=text,
        speaker=speaker,
        confidence=confidence,
        words=words,
    )


class Transcriber:
    """A loaded model plus the settings to decode files with it. One per process."""

    def __init__(self, model_dir: Path, sample_rate: int = 16000) -> None:
        self.model_dir = Path(model_dir)
        self.sample_rate = sample_rate
        self.model = load_model(self.model_dir)

    def _recognizer(self) -> vosk.KaldiRecognizer:
        recognizer = _vosk().KaldiRecognizer(self.model, float(self.sample_rate))
        recognizer.SetWords(True)
        return recognizer

    def transcribe_pcm(self, pcm: bytes, speaker: str) -> Transcript:
        """Decode int16 mono PCM at the model rate (reproducibly, see `reseed`)."""
        reseed()
        recognizer = self._recognizer()
        step = 2 * int(self.sample_rate * CHUNK_SECONDS)
        segments: list[Segment] = []
        for offset in range(0, len(pcm), step):
            if recognizer.AcceptWaveform(pcm[offset : offset + step]):
                segment = _segment_from_result(recognizer.Result(), speaker)
                if segment is not None:
                    segments.append(segment)
        segment = _segment_from_result(recognizer.FinalResult(), speaker)
        if segment is not None:
            segments.append(segment)
        duration = round(len(pcm) / 2 / self.sample_rate, 3)
        return Transcript(segments=tuple(segments), duration=duration, speakers=(speaker,))

    def transcribe(self, path: Path, speaker: str, channel: int | None = None) -> Transcript:
        """Decode one WAV file (any supported rate; `channel` None mixes stereo down)."""
        return self.transcribe_pcm(load_for_model(Path(path), self.sample_rate, channel), speaker)

    def transcribe_call(self, legs: Mapping[str, Path]) -> Transcript:
        """Decode each leg (speaker label -> WAV) and merge the segments by time."""
        return Transcript.merge(self.transcribe(path, speaker) for speaker, path in legs.items())

    def stream(self, speaker: str, input_rate: int = 8000) -> StreamingSession:
        return StreamingSession(self, speaker, input_rate)


class StreamingSession:
    """Live decoding of one audio stream (one call leg).

    `feed(pcm)` takes little-endian int16 mono PCM at `input_rate` (AudioSocket sends 8 kHz slin,
    320-byte or 480-byte frames; ``c(slin16)`` gives 16 kHz) and returns what became known: a
    `Partial` when the current hypothesis changed, a `Segment` when the recognizer closed an
    utterance. `finish()` flushes the last utterance. Times are seconds from the first fed
    sample. Thread-safe (one lock); `feed` blocks for the decoding time of the chunk, so run it
    in a thread or a worker, not on the event loop (`feed_async` does that for you).
    """

    def __init__(self, transcriber: Transcriber, speaker: str, input_rate: int = 8000) -> None:
        self.speaker = speaker
        self.input_rate = input_rate
        self._resampler = StreamResampler(input_rate, transcriber.sample_rate)
        self._recognizer = transcriber._recognizer()
        self._last_partial = ""
        self._lock = threading.Lock()
        self._finished = False
        self.segments: list[Segment] = []

    def _accept(self, pcm: bytes) -> list[Partial | Segment]:
        events: list[Partial | Segment] = []
        if not pcm:
            return events
        if self._recognizer.AcceptWaveform(pcm):
            segment = _segment_from_result(self._recognizer.Result(), self.speaker)
            self._last_partial = ""
            if segment is not None:
                self.segments.append(segment)
                events.append(segment)
        else:
            partial = str(json.loads(self._recognizer.PartialResult()).get("partial", ""))
            if partial != self._last_partial:
                self._last_partial = partial
                if partial:
                    events.append(Partial(text=partial, speaker=self.speaker))
        return events

    def feed(self, pcm: bytes) -> list[Partial | Segment]:
        with self._lock:
            if self._finished:
                raise AsrError("StreamingSession.feed after finish()", "asr.stream_closed")
            samples = self._resampler.process(pcm_to_array(pcm))
            return self._accept(samples.astype("<i2").tobytes())

    async def feed_async(self, pcm: bytes) -> list[Partial | Segment]:
        """`feed` in a thread (Vosk releases the GIL while decoding)."""
        return await asyncio.to_thread(self.feed, pcm)

    def finish(self) -> list[Segment]:
        with self._lock:
            if self._finished:
                return []
            self._finished = True
            events = self._accept(self._resampler.flush().astype("<i2").tobytes())
            segments = [e for e in events if isinstance(e, Segment)]
            final = _segment_from_result(self._recognizer.FinalResult(), self.speaker)
            if final is not None:
                self.segments.append(final)
                segments.append(final)
            return segments
