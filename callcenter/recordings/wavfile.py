"""WAV facts without trusting a file that may still be written: completeness, duration, hash."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WavFacts:
    size: int
    duration: float
    sha256: str
    complete: bool


def _data_chunk(head: bytes) -> tuple[int, int, int] | None:
    """(byte rate, data offset, declared data size) from a RIFF/WAVE header, or None."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos, byte_rate = 12, 0
    while pos + 8 <= len(head):
        chunk, size = head[pos : pos + 4], struct.unpack("<I", head[pos + 4 : pos + 8])[0]
        if chunk == b"fmt " and pos + 20 <= len(head):
            byte_rate = struct.unpack("<I", head[pos + 16 : pos + 20])[0]
        if chunk == b"data":
            return byte_rate, pos + 8, size
        pos += 8 + size + (size & 1)
    return None


def inspect(path: Path) -> WavFacts:
    """Size, duration and SHA-256 of a WAV; `complete` when its header has been finalised
    (Asterisk writes the sizes when it closes the file)."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    with path.open("rb") as f:
        while chunk := f.read(1 << 16):
            if len(head) < 4096:
                head += chunk[: 4096 - len(head)]
            digest.update(chunk)
            size += len(chunk)
    found = _data_chunk(head)
    if found is None:
        return WavFacts(size, 0.0, digest.hexdigest(), False)
    byte_rate, offset, declared = found
    actual = size - offset
    complete = byte_rate > 0 and declared == actual
    duration = actual / byte_rate if byte_rate else 0.0
    return WavFacts(size, duration, digest.hexdigest(), complete)
