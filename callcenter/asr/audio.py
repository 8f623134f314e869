"""Audio input for recognition: WAV reading, channel choice, resampling, level helpers.

Everything works on 16-bit signed PCM held in numpy arrays; recognizers take little-endian
int16 `bytes` at the model's rate (16 kHz for the models we use).

Resampling is band-limited interpolation with a polyphase filter bank (Kaiser-windowed sinc,
16 zero crossings, cut-off at 95 % of the lower Nyquist frequency, so downsampling from
22.05 kHz does not alias and upsampling from 8 kHz does not image). For a rate pair with
``g = gcd(src, dst)`` there are ``dst / g`` filter phases, precomputed once; each output
sample is one dot product of ``2 * half_width`` input samples with the weights of its phase.
Each phase is normalised to unit DC gain. The same `StreamResampler` serves whole files and
live chunks, so a file and the same audio fed in pieces resample to identical samples.
"""

from __future__ import annotations

import math
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from callcenter.asr.errors import AsrError

Int16Array = npt.NDArray[np.int16]
FloatArray = npt.NDArray[np.float64]

SUPPORTED_RATES = (8000, 16000, 22050, 44100, 48000)
_ZERO_CROSSINGS = 16
_ROLLOFF = 0.95
_KAISER_BETA = 8.6
_BLOCK = 32768  # output samples computed per vectorised step (bounds temporary memory)


@dataclass(frozen=True)
class PcmAudio:
    """Decoded audio: `samples` has shape (frames, channels), dtype int16."""

    samples: Int16Array
    rate: int

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def frames(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration(self) -> float:
        return self.frames / self.rate


def read_wav(path: Path) -> PcmAudio:
    """Read a 16-bit PCM WAV file (mono or stereo, any of `SUPPORTED_RATES`).

    Raises `AsrError` (``asr.audio_unreadable`` or ``asr.audio_format``) naming the file.
    """
    try:
        with wave.open(str(path), "rb") as wav:
            channels = wav.getnchannels()
            width = wav.getsampwidth()
            rate = wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise AsrError(f"cannot read WAV file {path}: {exc}", "asr.audio_unreadable") from exc
    if width != 2:
        raise AsrError(
            f"{path}: {8 * width}-bit samples; only 16-bit PCM is supported", "asr.audio_format"
        )
    if channels not in (1, 2):
        raise AsrError(f"{path}: {channels} channels; only mono or stereo", "asr.audio_format")
    if rate not in SUPPORTED_RATES:
        raise AsrError(
            f"{path}: sample rate {rate} Hz; supported: {', '.join(map(str, SUPPORTED_RATES))}",
            "asr.audio_format",
        )
    usable = len(raw) - len(raw) % (2 * channels)
    samples = np.frombuffer(raw[:usable], dtype="<i2").astype(np.int16).reshape(-1, channels)
    return PcmAudio(samples=samples, rate=rate)


def write_wav(path: Path, samples: Int16Array, rate: int) -> None:
    """Write int16 samples (1-D mono or (frames, channels)) as a PCM WAV file."""
    data = samples if samples.ndim == 2 else samples.reshape(-1, 1)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(int(data.shape[1]))
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(data.astype("<i2").tobytes())


def select_channel(audio: PcmAudio, channel: int | None = None) -> Int16Array:
    """One channel as a 1-D array; `None` mixes all channels down (mean)."""
    if channel is None:
        if audio.channels == 1:
            return audio.samples[:, 0].copy()
        mixed = audio.samples.astype(np.int32).mean(axis=1)
        out: Int16Array = np.rint(mixed).astype(np.int16)
        return out
    if not 0 <= channel < audio.channels:
        raise AsrError(
            f"channel {channel} requested but the audio has {audio.channels}", "asr.audio_format"
        )
    return audio.samples[:, channel].copy()


def _phase_bank(src: int, dst: int) -> tuple[FloatArray, int]:
    """Filter weights, shape (phases, 2 * half_width), and half_width in input samples."""
    g = math.gcd(src, dst)
    phases = dst // g
    fc = _ROLLOFF * min(1.0, dst / src)  # cut-off relative to the input Nyquist frequency
    half = math.ceil(_ZERO_CROSSINGS / fc)
    frac = (np.arange(phases, dtype=np.float64) * g) / dst  # (p * src mod dst) / dst, reordered
    # Tap j of an output at input position t = base + frac multiplies x[base - half + 1 + j].
    offsets = frac[:, None] + (half - 1) - np.arange(2 * half, dtype=np.float64)[None, :]
    window = np.i0(_KAISER_BETA * np.sqrt(np.clip(1.0 - (offsets / half) ** 2, 0.0, 1.0)))
    weights = np.sinc(fc * offsets) * window
    weights /= weights.sum(axis=1, keepdims=True)
    return weights.astype(np.float64), half


class StreamResampler:
    """Resamples int16 PCM from `src` to `dst` Hz, chunk by chunk, with exact sample accounting.

    `process(chunk)` returns every output sample whose filter window is complete (a latency of
    ``half_width`` input samples, 2 ms at 8 kHz); `flush()` returns the rest, so that the total
    output length is ``ceil(n_in * dst / src)``.
    """

    def __init__(self, src: int, dst: int) -> None:
        if src <= 0 or dst <= 0:
            raise ValueError("sample rates must be positive")
        self.src = src
        self.dst = dst
        self._identity = src == dst
        self._bank, self._half = _phase_bank(src, dst) if not self._identity else (np.zeros(0), 0)
        self._gcd = math.gcd(src, dst)
        # Buffer of input samples; buffer index 0 is absolute input index `_buf_start`.
        self._buf: FloatArray = np.zeros(self._half, dtype=np.float64)
        self._buf_start = -self._half
        self._n_in = 0
        self._n_out = 0
        self._flushed = False

    def _emit(self, n_end: int) -> Int16Array:
        if n_end <= self._n_out:
            return np.zeros(0, dtype=np.int16)
        pieces: list[Int16Array] = []
        width = 2 * self._half
        taps = np.arange(width)
        for start in range(self._n_out, n_end, _BLOCK):
            n = np.arange(start, min(start + _BLOCK, n_end), dtype=np.int64)
            pos = n * self.src
            base = pos // self.dst
            phase = (pos % self.dst) // self._gcd
            first = base - self._half + 1 - self._buf_start
            frames = self._buf[first[:, None] + taps[None, :]]
            y = np.einsum("ij,ij->i", frames, self._bank[phase])
            pieces.append(np.clip(np.rint(y), -32768, 32767).astype(np.int16))
        self._n_out = n_end
        # Drop input no longer needed by any future output.
        next_base = (n_end * self.src) // self.dst
        keep_from = next_base - self._half + 1
        drop = max(0, keep_from - self._buf_start)
        if drop:
            self._buf = self._buf[drop:]
            self._buf_start += drop
        return np.concatenate(pieces)

    def process(self, chunk: Int16Array) -> Int16Array:
        if self._flushed:
            raise RuntimeError("StreamResampler.process after flush")
        if self._identity:
            self._n_in += len(chunk)
            return chunk.astype(np.int16, copy=True)
        self._buf = np.concatenate([self._buf, chunk.astype(np.float64)])
        self._n_in += len(chunk)
        # Output n needs inputs up to base(n) + half <= n_in - 1.
        limit = self._n_in - self._half
        n_end = max(0, -(-limit * self.dst // self.src)) if limit > 0 else 0
        return self._emit(n_end)

    def flush(self) -> Int16Array:
        if self._flushed or self._identity:
            self._flushed = True
            return np.zeros(0, dtype=np.int16)
        self._flushed = True
        total = -(-self._n_in * self.dst // self.src)
        self._buf = np.concatenate([self._buf, np.zeros(self._half + 1, dtype=np.float64)])
        return self._emit(total)


def resample(samples: Int16Array, src: int, dst: int) -> Int16Array:
    """Resample a whole 1-D int16 signal (band-limited polyphase; see the module docstring)."""
    if src == dst:
        return samples.astype(np.int16, copy=True)
    resampler = StreamResampler(src, dst)
    return np.concatenate([resampler.process(samples), resampler.flush()])


def load_for_model(path: Path, rate: int = 16000, channel: int | None = None) -> bytes:
    """A WAV file as little-endian int16 mono PCM bytes at `rate` (the model's rate)."""
    audio = read_wav(path)
    mono = select_channel(audio, channel)
    return resample(mono, audio.rate, rate).astype("<i2").tobytes()


def pcm_to_array(pcm: bytes) -> Int16Array:
    """Little-endian int16 PCM bytes to a numpy array (an odd trailing byte is ignored)."""
    return np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.int16)


def rms(samples: Int16Array | bytes) -> float:
    """Root mean square of int16 samples (0 for no samples), in sample units."""
    data = pcm_to_array(samples) if isinstance(samples, bytes) else samples
    if data.size == 0:
        return 0.0
    values = data.astype(np.float64)
    return float(np.sqrt(np.mean(values * values)))


def rms_dbfs(samples: Int16Array | bytes) -> float:
    """RMS level in dB relative to full scale (-inf for digital silence)."""
    level = rms(samples)
    return 20.0 * math.log10(level / 32768.0) if level > 0 else -math.inf


def is_silent(samples: Int16Array | bytes, threshold_dbfs: float = -50.0) -> bool:
    """True when the RMS level is below `threshold_dbfs` (default -50 dBFS, about 103 units)."""
    return rms_dbfs(samples) < threshold_dbfs
