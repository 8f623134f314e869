"""Live transcription of call audio that the PBX streams to the engine (`stream_audio`).

The PBX opens one stream per channel leg; the wing's `LiveAudioListener` (how that PBX carries
it, callcenter/pbx/: a TCP connection, a SIP call with RTP media) turns each into a
`StreamStarted` (the stream id given to stream_audio) followed by `AudioChunk`s of 16-bit mono
PCM, ending when the leg does.

`LiveTranscriptionServer` receives those streams through the listener. The engine announces each
stream first with `expect(uuid, call_id, speaker)`; an unannounced UUID is still transcribed, as
call ``uuid`` and speaker ``"unknown"``. Every stream gets its own `StreamingSession`; audio is
gathered into `CHUNK_SECONDS` pieces (the chunking `Transcriber.transcribe` uses, so a stream
decodes like the same audio as a file) and decoded in a thread pool, one piece in flight per
stream. While a piece decodes the stream is not read: over TCP a slow decoder drops nothing, it
slows the sender down through flow control (RTP datagrams wait in the listener's queue). Each
`Partial` and `Segment` goes to ``on_result(call_id, speaker, result)`` on the event loop, in
order; at hangup or EOF the session is finished and its last segments reported too. Final
segments are also kept per call (`final_segments`, both speakers ordered by time) until
`forget(call_id)`.

Reproducibility: Kaldi draws from libc ``rand()`` while decoding (see `reseed`). A stream that
starts while no other stream is decoding reseeds first, so it gives exactly the text a batch
`Transcriber.transcribe` of the same audio gives; concurrent streams share the generator and
may differ slightly between runs.

Nothing is written back to the PBX.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import itertools
import logging
import uuid as uuid_mod
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from callcenter.asr.transcriber import (
    CHUNK_SECONDS,
    Partial,
    Segment,
    StreamingSession,
    Transcriber,
    reseed,
)
from callcenter.pbx.base import LiveAudio, LiveAudioError, LiveAudioListener, StreamStarted

log = logging.getLogger(__name__)

_T = TypeVar("_T")

UNKNOWN_SPEAKER = "unknown"

ResultCallback = Callable[[str, str, Partial | Segment], None]
StreamCallback = Callable[[str, str], None]


def canonical_uuid(value: str | bytes | uuid_mod.UUID) -> str:
    """The UUID as lowercase ``8-4-4-4-12`` text (from text in any case/dash form or 16 bytes)."""
    if isinstance(value, uuid_mod.UUID):
        return str(value)
    if isinstance(value, bytes):
        return str(uuid_mod.UUID(bytes=value))
    return str(uuid_mod.UUID(value))


@dataclass
class _Stream:
    """One live-audio connection."""

    number: int
    peer: str
    uuid: str | None = None
    call_id: str | None = None
    speaker: str | None = None
    rate: int | None = None
    session: StreamingSession | None = None
    reseed: bool = False
    buffer: bytearray = field(default_factory=bytearray)
    items: int = 0
    audio_bytes: int = 0

    def label(self) -> str:
        who = f"{self.call_id}/{self.speaker}" if self.call_id is not None else "unidentified"
        return f"live audio stream #{self.number} from {self.peer} ({who})"


class LiveTranscriptionServer:
    """Receives streams through `listener`; transcribes every stream live.

    ``transcriber_factory`` is a loaded `Transcriber` or a callable that loads one (called once,
    in a thread, by `start`). ``on_result(call_id, speaker, result)`` runs on the event loop for
    every `Partial` and `Segment`; an exception it raises is logged and ignored.
    ``on_stream_end(call_id, speaker)``, if given, runs on the loop after a stream's last result.
    At most ``max_streams`` streams are served at once; more are ended at once (logged).
    """

    def __init__(
        self,
        transcriber_factory: Callable[[], Transcriber] | Transcriber,
        on_result: ResultCallback,
        host: str = "127.0.0.1",
        port: int = 0,
        max_streams: int = 8,
        *,
        listener: LiveAudioListener,
        on_stream_end: StreamCallback | None = None,
        chunk_seconds: float = CHUNK_SECONDS,
        close_timeout: float = 30.0,
    ) -> None:
        if max_streams < 1:
            raise ValueError("max_streams must be at least 1")
        if chunk_seconds <= 0:
            raise ValueError("chunk_seconds must be positive")
        self._factory = transcriber_factory
        self._transcriber: Transcriber | None = (
            transcriber_factory if isinstance(transcriber_factory, Transcriber) else None
        )
        self._on_result = on_result
        self._listener = listener
        self._on_stream_end = on_stream_end
        self.host = host
        self._requested_port = port
        self.max_streams = max_streams
        self.chunk_seconds = chunk_seconds
        self.close_timeout = close_timeout
        self._started = False
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._expected: dict[str, tuple[str, str]] = {}
        self._streams: dict[int, _Stream] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._finals: dict[str, list[Segment]] = {}
        self._numbers = itertools.count(1)
        self._port: int | None = None
        self._closing = False
        self.refused = 0  # connections closed because max_streams were active

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (known after `start`)."""
        if self._port is None:
            raise RuntimeError("LiveTranscriptionServer.port before start()")
        return self._port

    async def start(self) -> None:
        if self._started:
            raise RuntimeError("LiveTranscriptionServer already started")
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.max_streams, thread_name_prefix="asr-live"
        )
        try:
            if self._transcriber is None:
                factory = self._factory
                assert not isinstance(factory, Transcriber)
                self._transcriber = await self._run(factory)
            self._closing = False
            self._port = await self._listener.start(self.host, self._requested_port, self._accept)
            self._started = True
        except BaseException:
            executor, self._executor = self._executor, None
            executor.shutdown(wait=False)
            raise
        log.info("live transcription listening on %s:%d", self.host, self._port)

    async def close(self) -> None:
        """Stop listening, end every stream (its last segments are still reported), wait."""
        self._closing = True
        if self._started:
            self._started = False
            # the listener ends every stream; each handler finishes its session and reports
            closing = asyncio.ensure_future(self._listener.close())
            _, pending = await asyncio.wait({closing}, timeout=self.close_timeout)
            if pending:
                for task in list(self._tasks):
                    task.cancel()
            await closing
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(None, executor.shutdown)

    async def __aenter__(self) -> LiveTranscriptionServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- registry ---------------------------------------------------------------------------

    def expect(self, uuid: str, call_id: str, speaker: str) -> None:
        """Announce that the stream with id `uuid` is `speaker` of `call_id`.

        Raises ValueError if `uuid` is not a UUID (stream ids are UUIDs).
        """
        self._expected[canonical_uuid(uuid)] = (call_id, speaker)

    def streams(self) -> list[tuple[str, str]]:
        """(call_id, speaker) of every identified stream being received now."""
        return [
            (s.call_id, s.speaker)
            for s in self._streams.values()
            if s.call_id is not None and s.speaker is not None
        ]

    def final_segments(self, call_id: str) -> list[Segment]:
        """Final segments of a call so far, both speakers, ordered by (start, end, speaker)."""
        return sorted(self._finals.get(call_id, ()), key=lambda s: (s.start, s.end, s.speaker))

    def forget(self, call_id: str) -> None:
        """Drop the collected segments and any pending announcement of `call_id`."""
        self._finals.pop(call_id, None)
        for key in [k for k, (cid, _) in self._expected.items() if cid == call_id]:
            del self._expected[key]

    # -- connections ------------------------------------------------------------------------

    async def _accept(self, peer: str, items: AsyncIterator[LiveAudio]) -> None:
        """One stream, in the listener's task of it; returning ends the stream."""
        task = asyncio.current_task()
        if self._closing or len(self._streams) >= self.max_streams:
            self.refused += 1
            log.warning(
                "live audio stream from %s refused: %d streams active (max_streams=%d)",
                peer,
                len(self._streams),
                self.max_streams,
            )
            return
        stream = _Stream(number=next(self._numbers), peer=peer)
        self._streams[stream.number] = stream
        if task is not None:
            self._tasks.add(task)
        try:
            await self._serve(stream, items)
        except LiveAudioError as exc:
            log.warning("%s: %s; closing it", stream.label(), exc)
        except (ConnectionError, OSError) as exc:
            log.warning("%s: connection error %r; closing it", stream.label(), exc)
        except asyncio.CancelledError:
            log.warning("%s: cancelled", stream.label())
            raise
        except Exception:
            log.exception("%s: failed; closing it", stream.label())
        finally:
            try:
                await self._finish(stream)
            finally:
                del self._streams[stream.number]
                if task is not None:
                    self._tasks.discard(task)

    async def _serve(self, stream: _Stream, items: AsyncIterator[LiveAudio]) -> None:
        async for item in items:
            stream.items += 1
            if isinstance(item, StreamStarted):
                self._identify(stream, item.stream_id)
            else:
                await self._audio(stream, item.rate, item.pcm)
        log.debug("%s: ended after %d items", stream.label(), stream.items)

    def _identify(self, stream: _Stream, stream_id: str) -> None:
        if stream.uuid is not None:
            raise LiveAudioError("second stream id")
        stream.uuid = canonical_uuid(stream_id)
        expected = self._expected.pop(stream.uuid, None)
        if expected is None:
            stream.call_id, stream.speaker = stream.uuid, UNKNOWN_SPEAKER
            log.warning(
                "%s: UUID %s was not announced with expect(); transcribing it as speaker %r",
                stream.label(),
                stream.uuid,
                UNKNOWN_SPEAKER,
            )
        else:
            stream.call_id, stream.speaker = expected
            log.info("%s: stream started", stream.label())

    def _chunk_bytes(self, rate: int) -> int:
        return 2 * max(1, int(rate * self.chunk_seconds))

    async def _audio(self, stream: _Stream, rate: int, payload: bytes) -> None:
        if stream.call_id is None:
            raise LiveAudioError("audio before the stream id")
        if stream.rate is None:
            stream.rate = rate
            stream.reseed = not any(
                s.session is not None for s in self._streams.values() if s is not stream
            )
            stream.session = await self._run(functools.partial(self._open_session, stream))
        elif rate != stream.rate:
            raise LiveAudioError(f"audio at {rate} Hz in a stream that started at {stream.rate} Hz")
        if len(payload) % 2:
            raise LiveAudioError(f"audio of {len(payload)} bytes (odd length)")
        stream.buffer += payload
        stream.audio_bytes += len(payload)
        chunk = self._chunk_bytes(rate)
        while len(stream.buffer) >= chunk:
            piece = bytes(stream.buffer[:chunk])
            del stream.buffer[:chunk]
            # One piece in flight per stream; the socket is not read meanwhile (backpressure).
            self._report(stream, await self._run(functools.partial(self._feed, stream, piece)))

    def _open_session(self, stream: _Stream) -> StreamingSession:
        assert self._transcriber is not None and stream.speaker is not None
        assert stream.rate is not None
        if stream.reseed:
            reseed()  # alone on the decoder: decode exactly like a file (see module doc)
        return self._transcriber.stream(stream.speaker, input_rate=stream.rate)

    @staticmethod
    def _feed(stream: _Stream, pcm: bytes) -> list[Partial | Segment]:
        assert stream.session is not None
        return stream.session.feed(pcm)

    @staticmethod
    def _flush(stream: _Stream, pcm: bytes) -> list[Partial | Segment]:
        assert stream.session is not None
        events = stream.session.feed(pcm) if pcm else []
        return [*events, *stream.session.finish()]

    async def _run(self, func: Callable[[], _T]) -> _T:
        """`func()` in the server's thread pool (decoding never runs on the event loop)."""
        executor = self._executor
        if executor is None:
            raise RuntimeError("LiveTranscriptionServer is not started")
        return await asyncio.get_running_loop().run_in_executor(executor, func)

    async def _finish(self, stream: _Stream) -> None:
        """Decode what is buffered, finish the session, report; then `on_stream_end`."""
        if stream.session is not None:
            rest = bytes(stream.buffer)
            stream.buffer.clear()
            try:
                events = await self._run(functools.partial(self._flush, stream, rest))
            except Exception:
                log.exception("%s: finishing the recognizer failed", stream.label())
            else:
                self._report(stream, events)
            seconds = stream.audio_bytes / 2 / (stream.rate or 8000)
            log.info(
                "%s: ended after %.2f s of audio, %d final segments",
                stream.label(),
                seconds,
                len(stream.session.segments),
            )
        if self._on_stream_end is not None and stream.call_id is not None:
            assert stream.speaker is not None
            try:
                self._on_stream_end(stream.call_id, stream.speaker)
            except Exception:
                log.exception("%s: on_stream_end callback failed", stream.label())

    def _report(self, stream: _Stream, events: Sequence[Partial | Segment]) -> None:
        assert stream.call_id is not None and stream.speaker is not None
        for event in events:
            if isinstance(event, Segment):
                self._finals.setdefault(stream.call_id, []).append(event)
            try:
                self._on_result(stream.call_id, stream.speaker, event)
            except Exception:
                log.exception("%s: on_result callback failed", stream.label())
