"""AudioSocket, the framing of the leg audio Asterisk streams to the engine (stream_audio).

Asterisk's ``AudioSocket(uuid,host:port)`` (or ``Dial(AudioSocket/host:port/uuid/c(slin16))``)
opens one TCP connection per channel leg and sends frames of ``type (1 byte) | payload length
(2 bytes, big-endian) | payload``:

- ``0x01`` UUID (16 raw bytes), first;
- ``0x10`` audio, 16-bit little-endian signed linear PCM, 8 kHz mono (320 bytes per 20 ms,
  480 bytes per 30 ms were seen here; any length is accepted); ``0x11``-``0x18`` the same at
  12/16/24/32/44.1/48/96/192 kHz (``c(slin16)`` gives ``0x12``);
- ``0x03`` DTMF digit (1 byte, ignored), ``0xff`` error (optional 1-byte code, logged);
- ``0x00`` hangup; closing the socket means the same.

`decode` turns one connection into the engine's `LiveAudio` items (callcenter/pbx/base.py);
`AudioSocketListener`, the wing's `LiveAudioListener`, is the TCP server passing every
connection, decoded, to the engine. Nothing is written back to Asterisk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable

from callcenter.pbx.base import (
    AudioChunk,
    LiveAudio,
    LiveAudioError,
    LiveAudioHandler,
    StreamStarted,
)

log = logging.getLogger(__name__)

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_AUDIO = 0x10  # slin, 8 kHz
KIND_ERROR = 0xFF

# AudioSocket audio kinds -> sample rate (Asterisk 22 res_audiosocket.h).
AUDIO_RATES: dict[int, int] = {
    0x10: 8000,
    0x11: 12000,
    0x12: 16000,
    0x13: 24000,
    0x14: 32000,
    0x15: 44100,
    0x16: 48000,
    0x17: 96000,
    0x18: 192000,
}

HEADER_BYTES = 3
UUID_BYTES = 16


def frame(kind: int, payload: bytes = b"") -> bytes:
    """Encode one AudioSocket frame (used by tests and tools that play Asterisk's part)."""
    if not 0 <= kind <= 0xFF:
        raise ValueError(f"frame type {kind} is not a byte")
    if len(payload) > 0xFFFF:
        raise ValueError(f"payload of {len(payload)} bytes does not fit a frame")
    return bytes([kind]) + len(payload).to_bytes(2, "big") + payload


async def read_frame(
    reader: asyncio.StreamReader, closing: Callable[[], bool]
) -> tuple[int, bytes]:
    """Next frame; (KIND_HANGUP, b"") at a clean EOF between frames, or at any EOF once the
    listener is `closing` (it cut the connection: a normal end)."""
    try:
        header = await reader.readexactly(HEADER_BYTES)
    except asyncio.IncompleteReadError as exc:
        if exc.partial and not closing():
            raise LiveAudioError(
                f"stream truncated inside a frame header ({len(exc.partial)} of 3 bytes)"
            ) from None
        return KIND_HANGUP, b""
    kind = header[0]
    length = int.from_bytes(header[1:3], "big")
    try:
        payload = await reader.readexactly(length) if length else b""
    except asyncio.IncompleteReadError as exc:
        if closing():
            return KIND_HANGUP, b""
        raise LiveAudioError(
            f"stream truncated inside a frame of type 0x{kind:02x}"
            f" ({len(exc.partial)} of {length} payload bytes)"
        ) from None
    return kind, payload


async def decode(
    reader: asyncio.StreamReader, closing: Callable[[], bool]
) -> AsyncIterator[LiveAudio]:
    """One AudioSocket connection as `StreamStarted` (its UUID) then `AudioChunk`s, ending at
    the hangup frame or EOF; LiveAudioError when the peer breaks the protocol."""
    identified = False
    while True:
        kind, payload = await read_frame(reader, closing)
        if kind == KIND_HANGUP:
            return
        if kind == KIND_UUID:
            if identified:
                raise LiveAudioError("second UUID frame")
            if len(payload) != UUID_BYTES:
                raise LiveAudioError(f"UUID frame of {len(payload)} bytes, expected 16")
            identified = True
            yield StreamStarted(str(uuid.UUID(bytes=payload)))
        elif kind in AUDIO_RATES:
            if not identified:
                raise LiveAudioError("audio before the UUID frame")
            yield AudioChunk(AUDIO_RATES[kind], payload)
        elif kind == KIND_DTMF:
            log.debug("AudioSocket DTMF %r ignored", payload)
        elif kind == KIND_ERROR:
            code = f"0x{payload[0]:02x}" if payload else "none"
            log.warning("AudioSocket peer reported error code %s", code)
        else:
            raise LiveAudioError(f"unknown frame type 0x{kind:02x}")


class AudioSocketListener:
    """`LiveAudioListener` for Asterisk: a TCP server, one connection per stream. While the
    handler of a stream does not read, neither does the socket (TCP flow control slows the
    sender down). At `close`, connections are cut: a cut mid-frame is then a normal end."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._handle: LiveAudioHandler | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    async def start(self, host: str, port: int, handle: LiveAudioHandler) -> int:
        if self._server is not None:
            raise RuntimeError("AudioSocketListener already started")
        self._handle, self._closing = handle, False
        self._server = await asyncio.start_server(self._accept, host, port, limit=2 * 65536)
        sockets = self._server.sockets
        return int(sockets[0].getsockname()[1]) if sockets else port

    async def close(self) -> None:
        self._closing = True
        server, self._server = self._server, None
        if server is not None:
            server.close()  # stop listening; wait_closed() last (3.12+ waits for connections)
        for writer in list(self._writers):
            writer.close()  # the stream's items end at the EOF
        if self._tasks:
            await asyncio.wait(list(self._tasks))
        if server is not None:
            await server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        peername = writer.get_extra_info("peername")
        peer = f"{peername[0]}:{peername[1]}" if isinstance(peername, tuple) else str(peername)
        try:
            assert self._handle is not None
            await self._handle(peer, decode(reader, lambda: self._closing))
        finally:
            self._writers.discard(writer)
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
