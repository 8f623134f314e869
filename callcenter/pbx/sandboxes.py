"""What every kind's sandbox shares: where the built roots are cached, and the hold music an
instance plays (so a test can recognise it)."""

from __future__ import annotations

import math
import os
import struct
import wave
from pathlib import Path


def cache_dir() -> Path:
    base = os.environ.get("CALLCENTER_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")), "callcenter"
    )
    return Path(base)


def write_hold_music(path: Path, seconds: float = 12.0) -> None:
    """A quiet arpeggio (8 kHz, 16-bit mono), so the hold class has something to play."""
    rate = 8000
    notes = (392.0, 493.9, 587.3, 784.0, 587.3, 493.9)
    frames = bytearray()
    n = int(rate * seconds)
    for i in range(n):
        t = i / rate
        f = notes[int(t * 2) % len(notes)]
        phase = (t * 2) % 1.0
        envelope = min(1.0, phase * 20) * (1.0 - phase) ** 2
        frames += struct.pack("<h", int(4000 * envelope * math.sin(2 * math.pi * f * t)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
