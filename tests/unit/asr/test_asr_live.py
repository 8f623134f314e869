"""LiveTranscriptionServer over real TCP (loopback), the real Vosk model and espeak-ng speech.

The client below plays Asterisk's part of AudioSocket byte for byte: a UUID frame (16 raw
bytes), then audio frames (type 0x10, 8 kHz slin, 320 bytes per 20 ms; or 480 bytes per 30 ms
as measured on the sandbox PBX; or 0x12 slin16), then a hangup frame. It sends faster than real
time, cutting the byte stream at arbitrary places so frames are split across writes and several
frames share one write. Waits are bounded only so that a failure cannot hang the suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from callcenter.asr.audio import read_wav, select_channel
from callcenter.asr.live import LiveTranscriptionServer, canonical_uuid
from callcenter.asr.transcriber import Partial, Segment, Transcriber
from callcenter.pbx.asterisk.audiosocket import AudioSocketListener, frame
from tools.asr_cer import cer

if TYPE_CHECKING:
    from tests.unit.asr.conftest import Speech

WAIT = 120.0  # bound on any wait (s); the tests never assert on time
# Write sizes that never line up with 323- or 483-byte frames: headers and payloads get split.
CUTS = (4001, 1, 2, 1597, 9000, 3, 700, 12345)


def pcm_of(path: Path) -> bytes:
    return select_channel(read_wav(path)).astype("<i2").tobytes()


def as_frame(kind: int, payload: bytes) -> bytes:
    """Asterisk's framing, written independently of the server's own `frame` helper."""
    return struct.pack(">BH", kind, len(payload)) + payload


@dataclass
class Event:
    call_id: str
    speaker: str
    result: Partial | Segment
    on_loop: bool


@dataclass
class Recorder:
    """Collects on_result / on_stream_end calls and lets a test wait for them."""

    loop_thread: int = field(default_factory=threading.get_ident)
    events: list[Event] = field(default_factory=list)
    ended: dict[tuple[str, str], asyncio.Event] = field(default_factory=dict)
    partial_seen: dict[tuple[str, str], asyncio.Event] = field(default_factory=dict)

    def _flag(
        self, table: dict[tuple[str, str], asyncio.Event], key: tuple[str, str]
    ) -> asyncio.Event:
        return table.setdefault(key, asyncio.Event())

    def on_result(self, call_id: str, speaker: str, result: Partial | Segment) -> None:
        on_loop = threading.get_ident() == self.loop_thread
        self.events.append(Event(call_id, speaker, result, on_loop))
        if isinstance(result, Partial):
            self._flag(self.partial_seen, (call_id, speaker)).set()

    def on_stream_end(self, call_id: str, speaker: str) -> None:
        self._flag(self.ended, (call_id, speaker)).set()

    async def wait_end(self, call_id: str, speaker: str) -> None:
        await asyncio.wait_for(self._flag(self.ended, (call_id, speaker)).wait(), WAIT)

    async def wait_partial(self, call_id: str, speaker: str) -> None:
        await asyncio.wait_for(self._flag(self.partial_seen, (call_id, speaker)).wait(), WAIT)

    def of(self, call_id: str, speaker: str) -> list[Partial | Segment]:
        return [e.result for e in self.events if (e.call_id, e.speaker) == (call_id, speaker)]

    def segments(self, call_id: str, speaker: str) -> list[Segment]:
        return [r for r in self.of(call_id, speaker) if isinstance(r, Segment)]

    def text(self, call_id: str, speaker: str) -> str:
        return " ".join(s.text for s in self.segments(call_id, speaker))


class Client:
    """One AudioSocket connection, as Asterisk opens it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._cut = 0

    @classmethod
    async def connect(cls, port: int) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        """Write `data` in pieces of awkward sizes, yielding between them."""
        offset = 0
        while offset < len(data):
            size = CUTS[self._cut % len(CUTS)]
            self._cut += 1
            self.writer.write(data[offset : offset + size])
            offset += size
            await self.writer.drain()
            await asyncio.sleep(0.001)

    async def closed_by_server(self) -> bool:
        """True once the server closes the connection (it never sends anything)."""
        try:
            data = await asyncio.wait_for(self.reader.read(), WAIT)
        except ConnectionResetError:  # closed with our unread bytes still in its buffer
            return True
        return data == b""

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


def audio_frames(pcm: bytes, frame_bytes: int = 320, kind: int = 0x10) -> bytes:
    return b"".join(
        as_frame(kind, pcm[offset : offset + frame_bytes])
        for offset in range(0, len(pcm), frame_bytes)
    )


async def play(
    port: int,
    stream_uuid: uuid.UUID,
    pcm: bytes,
    *,
    frame_bytes: int = 320,
    kind: int = 0x10,
    halfway: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """UUID, audio (pausing at half for `halfway`), hangup; then wait for the server to close."""
    client = await Client.connect(port)
    try:
        data = audio_frames(pcm, frame_bytes, kind)
        middle = len(data) // 2
        await client.send(as_frame(0x01, stream_uuid.bytes))
        await client.send(data[:middle])
        if halfway is not None:
            await halfway()
        await client.send(data[middle:])
        await client.send(as_frame(0x00, b""))
        assert await client.closed_by_server()
    finally:
        await client.close()


@dataclass(frozen=True)
class Batch:
    caller8: str
    caller16: str
    agent8: str


@pytest.fixture(scope="module")
def batch(transcriber: Transcriber, speech: Speech) -> Batch:
    """`Transcriber.transcribe` of the legs (reseeded per file, so reproducible): the reference."""
    return Batch(
        caller8=transcriber.transcribe(speech.caller8, "caller").text,
        caller16=transcriber.transcribe(speech.caller16, "caller").text,
        agent8=transcriber.transcribe(speech.agent8, "agent").text,
    )


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def server(
    transcriber: Transcriber, recorder: Recorder
) -> AsyncIterator[LiveTranscriptionServer]:
    live = LiveTranscriptionServer(
        transcriber,
        recorder.on_result,
        max_streams=3,
        on_stream_end=recorder.on_stream_end,
        listener=AudioSocketListener(),
    )
    await live.start()
    try:
        yield live
    finally:
        await asyncio.wait_for(live.close(), WAIT)


@pytest.mark.parametrize("frame_bytes", [320, 480], ids=["20ms-frames", "30ms-frames"])
async def test_live_stream_is_transcribed_like_the_file(
    batch: Batch,
    speech: Speech,
    server: LiveTranscriptionServer,
    recorder: Recorder,
    frame_bytes: int,
) -> None:
    stream_uuid = uuid.uuid4()
    server.expect(str(stream_uuid), "call-1", "caller")
    hung_up = False
    partials_before_hangup: list[int] = []

    async def halfway() -> None:
        # The stream is still open: results must already be flowing.
        await recorder.wait_partial("call-1", "caller")
        assert server.streams() == [("call-1", "caller")]
        partials_before_hangup.append(
            sum(isinstance(r, Partial) for r in recorder.of("call-1", "caller"))
        )
        assert not hung_up

    await play(
        server.port, stream_uuid, pcm_of(speech.caller8), frame_bytes=frame_bytes, halfway=halfway
    )
    hung_up = True
    await recorder.wait_end("call-1", "caller")

    assert partials_before_hangup and partials_before_hangup[0] >= 1
    assert all(e.on_loop for e in recorder.events)
    results = recorder.of("call-1", "caller")
    partials = [r for r in results if isinstance(r, Partial)]
    assert partials and all(p.speaker == "caller" and p.text for p in partials)
    segments = recorder.segments("call-1", "caller")
    assert len(segments) >= 2
    for s in segments:
        assert s.speaker == "caller"
        assert 0.0 <= s.start < s.end <= speech.caller8_s
        assert s.words and s.text
    assert [s.start for s in segments] == sorted(s.start for s in segments)
    # The last result is a final segment: nothing partial is left hanging after the hangup.
    assert isinstance(results[-1], Segment)
    assert server.final_segments("call-1") == segments
    assert server.streams() == []
    live_text = recorder.text("call-1", "caller")
    # Alone on the decoder, reseeded, fed in the file chunking: expected identical to batch.
    assert cer(batch.caller8, live_text) < 0.2, (batch.caller8, live_text)
    server.forget("call-1")
    assert server.final_segments("call-1") == []


async def test_slin16_frames(
    batch: Batch,
    speech: Speech,
    server: LiveTranscriptionServer,
    recorder: Recorder,
) -> None:
    """``Dial(AudioSocket/.../c(slin16))``: type 0x12, 640 bytes per 20 ms at 16 kHz."""
    stream_uuid = uuid.uuid4()
    server.expect(str(stream_uuid).upper(), "call-16", "caller")
    await play(server.port, stream_uuid, pcm_of(speech.caller16), frame_bytes=640, kind=0x12)
    await recorder.wait_end("call-16", "caller")
    segments = recorder.segments("call-16", "caller")
    assert segments and all(s.end <= speech.caller16_s for s in segments)
    live_text = recorder.text("call-16", "caller")
    assert cer(batch.caller16, live_text) < 0.2, (batch.caller16, live_text)


async def test_caller_and_agent_streams_are_kept_apart(
    batch: Batch,
    speech: Speech,
    server: LiveTranscriptionServer,
    recorder: Recorder,
) -> None:
    caller_batch, agent_batch = batch.caller8, batch.agent8
    caller_uuid, agent_uuid = uuid.uuid4(), uuid.uuid4()
    server.expect(str(caller_uuid), "call-2", "caller")
    server.expect(str(agent_uuid), "call-2", "agent")
    both_live = asyncio.Event()
    seen_streams: list[set[tuple[str, str]]] = []

    async def halfway() -> None:
        await recorder.wait_partial("call-2", "caller")
        await recorder.wait_partial("call-2", "agent")
        if not both_live.is_set():
            seen_streams.append(set(server.streams()))
            both_live.set()

    await asyncio.gather(
        play(server.port, caller_uuid, pcm_of(speech.caller8), halfway=halfway),
        play(server.port, agent_uuid, pcm_of(speech.agent8), frame_bytes=480, halfway=halfway),
    )
    await recorder.wait_end("call-2", "caller")
    await recorder.wait_end("call-2", "agent")

    assert seen_streams == [{("call-2", "caller"), ("call-2", "agent")}]
    assert {(e.call_id, e.speaker) for e in recorder.events} == {
        ("call-2", "caller"),
        ("call-2", "agent"),
    }
    for speaker, length in (("caller", speech.caller8_s), ("agent", speech.agent8_s)):
        results = recorder.of("call-2", speaker)
        assert all(r.speaker == speaker for r in results)
        segments = recorder.segments("call-2", speaker)
        assert len(segments) >= 2
        assert all(0.0 <= s.start < s.end <= length for s in segments)
    caller_live = recorder.text("call-2", "caller")
    agent_live = recorder.text("call-2", "agent")
    # Concurrent decodes share libc rand(): not necessarily identical, but each leg's text is
    # that leg's, not the other's.
    assert cer(caller_batch, caller_live) < cer(agent_batch, caller_live)
    assert cer(agent_batch, agent_live) < cer(caller_batch, agent_live)
    merged = server.final_segments("call-2")
    assert {s.speaker for s in merged} == {"caller", "agent"}
    assert sorted(merged, key=lambda s: (s.start, s.end, s.speaker)) == merged
    assert set(merged) == set(recorder.segments("call-2", "caller")) | set(
        recorder.segments("call-2", "agent")
    )


async def test_unannounced_uuid_is_transcribed_as_unknown(
    speech: Speech,
    server: LiveTranscriptionServer,
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stream_uuid = uuid.uuid4()
    pcm = pcm_of(speech.caller8)[: 2 * 8000 * 6]  # the first sentence or two
    with caplog.at_level(logging.WARNING, logger="callcenter"):
        await play(server.port, stream_uuid, pcm)
        await recorder.wait_end(str(stream_uuid), "unknown")
    results = recorder.of(str(stream_uuid), "unknown")
    assert results and all(r.speaker == "unknown" for r in results)
    assert any(isinstance(r, Segment) for r in results)
    assert {(e.call_id, e.speaker) for e in recorder.events} == {(str(stream_uuid), "unknown")}
    assert server.final_segments(str(stream_uuid))
    assert any("not announced" in r.getMessage() for r in caplog.records)


async def test_connections_beyond_max_streams_are_refused(
    speech: Speech,
    server: LiveTranscriptionServer,
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert server.max_streams == 3
    pcm = pcm_of(speech.caller8)[: 2 * 8000 * 6]
    uuids = [uuid.uuid4() for _ in range(3)]
    clients: list[Client] = []
    for n, stream_uuid in enumerate(uuids):
        server.expect(str(stream_uuid), f"call-{n}", "caller")
        client = await Client.connect(server.port)
        await client.send(as_frame(0x01, stream_uuid.bytes) + audio_frames(pcm[: len(pcm) // 2]))
        clients.append(client)
    for n in range(3):
        await recorder.wait_partial(f"call-{n}", "caller")
    assert sorted(server.streams()) == [(f"call-{n}", "caller") for n in range(3)]

    with caplog.at_level(logging.WARNING, logger="callcenter"):
        extra = await Client.connect(server.port)
        try:
            assert await extra.closed_by_server()
        finally:
            await extra.close()
    assert server.refused == 1
    assert any("refused" in r.getMessage() for r in caplog.records)

    # The three accepted streams are unaffected and finish normally.
    for client in clients:
        await client.send(audio_frames(pcm[len(pcm) // 2 :]) + as_frame(0x00, b""))
    for n, client in enumerate(clients):
        assert await client.closed_by_server()
        await client.close()
        await recorder.wait_end(f"call-{n}", "caller")
        assert server.final_segments(f"call-{n}")
    assert server.streams() == []

    # Capacity is back once they are gone.
    again = uuid.uuid4()
    server.expect(str(again), "call-again", "agent")
    await play(server.port, again, pcm_of(speech.agent8)[: 2 * 8000 * 5])
    await recorder.wait_end("call-again", "agent")
    assert server.refused == 1


async def test_bad_peers_are_closed_and_other_streams_continue(
    speech: Speech,
    server: LiveTranscriptionServer,
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = uuid.uuid4()
    server.expect(str(good), "call-good", "caller")
    pcm = pcm_of(speech.caller8)
    some_audio = audio_frames(pcm[: 2 * 8000 * 3])

    async def misbehave() -> None:
        # Runs while the good stream is half sent and being decoded.
        await recorder.wait_partial("call-good", "caller")
        garbage_uuid, truncated_uuid, early_uuid = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        server.expect(str(garbage_uuid), "call-bad", "garbage")
        server.expect(str(truncated_uuid), "call-bad", "truncated")
        server.expect(str(early_uuid), "call-bad", "early")

        garbage = await Client.connect(server.port)
        await garbage.send(as_frame(0x01, garbage_uuid.bytes) + some_audio + b"\x42\x00\x02zz")
        assert await garbage.closed_by_server()
        await garbage.close()

        # EOF in the middle of a frame: the peer vanished. What arrived is still transcribed.
        truncated = await Client.connect(server.port)
        await truncated.send(as_frame(0x01, truncated_uuid.bytes) + some_audio)
        await truncated.send(as_frame(0x10, pcm[:320])[:100])
        truncated.writer.write_eof()
        assert await truncated.closed_by_server()
        await truncated.close()

        # Audio before the UUID, a short UUID, an odd-length audio frame.
        for bad in (
            as_frame(0x10, pcm[:320]),
            as_frame(0x01, b"\x01\x02\x03"),
            as_frame(0x01, early_uuid.bytes) + as_frame(0x10, pcm[:321]),
        ):
            peer = await Client.connect(server.port)
            await peer.send(bad)
            assert await peer.closed_by_server()
            await peer.close()

        # DTMF and an Asterisk error frame are not protocol violations.
        harmless_uuid = uuid.uuid4()
        server.expect(str(harmless_uuid), "call-bad", "harmless")
        harmless = await Client.connect(server.port)
        await harmless.send(
            as_frame(0x01, harmless_uuid.bytes)
            + as_frame(0x03, b"5")
            + some_audio
            + as_frame(0xFF, b"\x02")
            + as_frame(0x00, b"")
        )
        assert await harmless.closed_by_server()
        await harmless.close()

    with caplog.at_level(logging.WARNING, logger="callcenter"):
        await play(server.port, good, pcm, halfway=misbehave)
        await recorder.wait_end("call-good", "caller")
        for speaker in ("garbage", "truncated", "early", "harmless"):
            await recorder.wait_end("call-bad", speaker)

    messages = [r.getMessage() for r in caplog.records]
    assert any("unknown frame type 0x42" in m for m in messages), messages
    assert any("truncated inside a frame" in m for m in messages), messages
    assert any("audio before the UUID frame" in m for m in messages), messages
    assert any("UUID frame of 3 bytes" in m for m in messages), messages
    assert any("odd length" in m for m in messages), messages
    assert any("error code 0x02" in m for m in messages), messages

    segments = recorder.segments("call-good", "caller")
    assert len(segments) >= 2 and all(s.end <= speech.caller8_s for s in segments)
    assert all(
        0.0 <= s.start < s.end <= 3.0 + 1e-6 for s in recorder.segments("call-bad", "truncated")
    )
    assert server.streams() == []
    # Still serving.
    after = uuid.uuid4()
    server.expect(str(after), "call-after", "agent")
    await play(server.port, after, pcm_of(speech.agent8)[: 2 * 8000 * 5])
    await recorder.wait_end("call-after", "agent")
    assert recorder.segments("call-after", "agent")


async def test_close_finishes_open_streams(speech: Speech, transcriber: Transcriber) -> None:
    recorder = Recorder()
    live = LiveTranscriptionServer(
        lambda: transcriber,
        recorder.on_result,
        on_stream_end=recorder.on_stream_end,
        listener=AudioSocketListener(),
    )
    await live.start()
    stream_uuid = uuid.uuid4()
    live.expect(str(stream_uuid), "call-open", "caller")
    client = await Client.connect(live.port)
    await client.send(as_frame(0x01, stream_uuid.bytes) + audio_frames(pcm_of(speech.caller8)))
    await recorder.wait_partial("call-open", "caller")
    await asyncio.wait_for(live.close(), WAIT)  # no hangup from the client
    assert recorder.ended[("call-open", "caller")].is_set()
    assert live.final_segments("call-open")
    assert await client.closed_by_server()
    await client.close()


def test_framing_helpers() -> None:
    assert frame(0x00) == b"\x00\x00\x00"
    assert frame(0x10, b"\x01\x02") == as_frame(0x10, b"\x01\x02")
    u = uuid.uuid4()
    assert canonical_uuid(u.bytes) == canonical_uuid(str(u).upper()) == canonical_uuid(u.hex)
    with pytest.raises(ValueError):
        frame(0x10, bytes(70000))
    server = LiveTranscriptionServer(
        lambda: pytest.fail("not started"), lambda *_: None, listener=AudioSocketListener()
    )
    with pytest.raises(ValueError):
        server.expect("not-a-uuid", "call", "caller")
    with pytest.raises(RuntimeError):
        _ = server.port
