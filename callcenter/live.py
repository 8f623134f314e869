"""Live transcription while a call is up: when a caller is connected to an agent, the PBX
streams each leg's voice (listen-only) to the engine's live-audio listener; partial results
and final segments are published on the bus as `LiveTranscript` and kept per call for the
agent's workspace (`/api/calls/{call_id}/live-transcript`)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from callcenter import domain
from callcenter.asr.live import LiveTranscriptionServer
from callcenter.asr.transcriber import Partial, Segment, Transcriber
from callcenter.bus import Bus, Subscription
from callcenter.pbx.base import LiveAudioListener

log = logging.getLogger(__name__)
LEGS = ("caller", "agent")
KEEP_SECONDS = 600.0  # how long a finished call's live transcript stays viewable


@dataclass
class CallView:
    partials: int = 0
    last_partial: dict[str, str] = field(default_factory=dict)
    segments: list[dict[str, Any]] = field(default_factory=list)
    closed_at: float | None = None
    agents: set[str] = field(default_factory=set)  # every agent the call was connected to


@dataclass
class LiveTranscription:
    """Starts the streams of connected calls and keeps what was recognized."""

    bus: Bus
    subscription: Subscription
    start_stream: Callable[[str, str, str, str], None]  # call_id, leg, address, stream id
    transcriber: Callable[[], Transcriber]  # loads the model (called once, in a thread)
    address: str
    listener: LiveAudioListener  # how the PBX carries the audio it streams (its wing says)
    max_streams: int = 8
    calls: dict[str, CallView] = field(default_factory=dict)
    server: LiveTranscriptionServer | None = None

    async def start(self) -> None:
        host, _, port = self.address.rpartition(":")
        self.server = LiveTranscriptionServer(
            self.transcriber,
            self._result,
            host=host,
            port=int(port),
            max_streams=self.max_streams,
            listener=self.listener,
        )
        await self.server.start()
        log.info("live transcription listening on %s", self.address)

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    async def run(self) -> None:
        async for e in self.subscription:
            if isinstance(e, domain.CallConnected) and self.server is not None:
                before = self.calls.get(e.call_id)
                self.calls[e.call_id] = CallView(
                    agents={*(before.agents if before else ()), e.agent_id}
                )
                for leg in LEGS:
                    stream_id = str(uuid.uuid4())
                    self.server.expect(stream_id, e.call_id, leg)
                    self.start_stream(e.call_id, leg, self.address, stream_id)
            elif isinstance(e, domain.CallClosed) and e.call_id in self.calls:
                self.calls[e.call_id].closed_at = e.at
            self._expire()

    def _expire(self) -> None:
        now = time.time()
        for call_id in [
            c for c, v in self.calls.items() if v.closed_at and now - v.closed_at > KEEP_SECONDS
        ]:
            del self.calls[call_id]
            if self.server is not None:
                self.server.forget(call_id)

    def _result(self, call_id: str, speaker: str, result: Partial | Segment) -> None:
        view = self.calls.setdefault(call_id, CallView())
        final = isinstance(result, Segment)
        if isinstance(result, Segment):
            view.segments.append(
                {"speaker": speaker, "start": result.start, "end": result.end, "text": result.text}
            )
            view.last_partial.pop(speaker, None)
            start, end = result.start, result.end
        else:
            view.partials += 1
            view.last_partial[speaker] = result.text
            start = end = 0.0
        self.bus.publish(
            domain.LiveTranscript(call_id, speaker, result.text, final, start, end, time.time())
        )

    def agents(self, call_id: str) -> frozenset[str]:
        """The agents this call was connected to (while its transcript is kept)."""
        v = self.calls.get(call_id)
        return frozenset(v.agents) if v is not None else frozenset()

    def view(self, call_id: str) -> dict[str, Any] | None:
        v = self.calls.get(call_id)
        if v is None:
            return None
        return {
            "call_id": call_id,
            "partials": v.partials,
            "current": dict(v.last_partial),
            "segments": sorted(v.segments, key=lambda s: s["start"]),
            "closed": v.closed_at is not None,
        }
