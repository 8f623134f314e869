"""Leg audio FreeSWITCH streams to the engine (stream_audio) as a SIP call with RTP media.

FreeSWITCH's release has no module that streams a channel's audio to an address, but it can
place a call whose media is an eavesdrop on a leg: ``originate
{...}sofia/<profile>/live-<stream id>@<listener> &eavesdrop(<leg>)``. This module is the far end
of that call, limited to that exchange: a SIP UAS on UDP that answers an INVITE whose request
URI user is ``live-<uuid>`` with 200 OK and an SDP answer (PCMU or PCMA, 8 kHz), ignores ACK,
answers BYE and CANCEL with 200 OK (the stream ends), and anything else with 501; and one RTP
receiver per call turning G.711 payloads into 16-bit linear PCM.

`SipLiveListener` turns every such call into the engine's `LiveAudio` items
(callcenter/pbx/base.py): `StreamStarted` with the UUID of the request URI, `AudioChunk`s at
8000 Hz, ending at BYE/CANCEL or when the listener closes. Nothing is sent back but SIP
responses; no RTP is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from callcenter.pbx.base import (
    AudioChunk,
    LiveAudio,
    LiveAudioError,
    LiveAudioHandler,
    StreamStarted,
)

log = logging.getLogger(__name__)

USER_PREFIX = "live-"
RATE = 8000
PCMU, PCMA = 0, 8
CODECS = {PCMU: "PCMU", PCMA: "PCMA"}
RTP_HEADER = 12
COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact"}
COMPACT |= {"l": "content-length", "c": "content-type"}


# -- G.711 --------------------------------------------------------------------------------------


def _ulaw(byte: int) -> int:
    u = ~byte & 0xFF
    t = ((u & 0x0F) << 3) + 0x84
    t <<= (u & 0x70) >> 4
    return (0x84 - t) if u & 0x80 else (t - 0x84)


def _alaw(byte: int) -> int:
    a = byte ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t = (t + 0x108) << (seg - 1)
    return t if a & 0x80 else -t


def _table(decode: object) -> bytes:
    assert callable(decode)
    return b"".join(int(decode(b)).to_bytes(2, "little", signed=True) for b in range(256))


ULAW_TABLE = _table(_ulaw)
ALAW_TABLE = _table(_alaw)


def g711_to_linear(payload: bytes, codec: int) -> bytes:
    """G.711 (PCMU or PCMA) bytes as 16-bit little-endian signed linear PCM."""
    table = ULAW_TABLE if codec == PCMU else ALAW_TABLE
    out = bytearray(2 * len(payload))
    for i, b in enumerate(payload):
        out[2 * i : 2 * i + 2] = table[2 * b : 2 * b + 2]
    return bytes(out)


# -- SIP messages -------------------------------------------------------------------------------


@dataclass
class SipMessage:
    start: str  # "INVITE sip:... SIP/2.0" or "SIP/2.0 200 OK"
    headers: list[tuple[str, str]]  # (lowercase full name, value) in order
    body: bytes = b""

    @property
    def method(self) -> str:
        return "" if self.start.startswith("SIP/") else self.start.split(" ", 1)[0]

    @property
    def uri(self) -> str:
        parts = self.start.split(" ")
        return parts[1] if len(parts) == 3 else ""

    def get(self, name: str) -> str:
        for key, value in self.headers:
            if key == name:
                return value
        return ""

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


def parse_message(data: bytes) -> SipMessage:
    """One SIP message of a datagram; LiveAudioError when it is not one."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise LiveAudioError("SIP message without the blank line ending its headers")
    try:
        lines = head.decode("utf-8").split("\r\n")
    except UnicodeDecodeError:
        raise LiveAudioError("SIP headers are not UTF-8") from None
    start = lines[0]
    if not (start.startswith("SIP/2.0 ") or start.endswith(" SIP/2.0")):
        raise LiveAudioError(f"not a SIP start line: {start[:80]!r}")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # folded continuation
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise LiveAudioError(f"SIP header line without a colon: {line[:80]!r}")
        key = name.strip().lower()
        headers.append((COMPACT.get(key, key), value.strip()))
    message = SipMessage(start, headers)
    length = message.get("content-length")
    message.body = body[: int(length)] if length.isdigit() else body
    return message


def stream_id_of(uri: str) -> str:
    """The stream UUID of a request URI ``sip:live-<uuid>@host[:port][;params]``."""
    m = re.match(r"sips?:([^@;>]+)@", uri)
    user = m.group(1) if m else ""
    if not user.startswith(USER_PREFIX):
        raise LiveAudioError(f"request URI {uri!r} names no live stream (user live-<uuid>)")
    try:
        return str(uuid.UUID(user[len(USER_PREFIX) :]))
    except ValueError:
        raise LiveAudioError(f"request URI {uri!r}: {user!r} holds no UUID") from None


@dataclass(frozen=True)
class Offer:
    host: str
    port: int
    payloads: tuple[int, ...]


def parse_sdp(body: bytes) -> Offer:
    """The audio address and payload types of an SDP offer."""
    host, port = "", 0
    payloads: tuple[int, ...] = ()
    media_host = ""
    in_audio = False
    for raw in body.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if line.startswith("c=IN IP4 "):
            if in_audio:
                media_host = line.split()[2]
            else:
                host = line.split()[2]
        elif line.startswith("m="):
            fields = line[2:].split()
            in_audio = fields[0] == "audio"
            if in_audio and len(fields) >= 4 and fields[1].isdigit():
                port = int(fields[1])
                payloads = tuple(int(x) for x in fields[3:] if x.isdigit())
    if not port or not (media_host or host):
        raise LiveAudioError("SDP offer without an audio stream and address")
    return Offer(media_host or host, port, payloads)


def answer_sdp(host: str, port: int, codec: int, session: int) -> bytes:
    return (
        "v=0\r\n"
        f"o=callcenter {session} {session} IN IP4 {host}\r\n"
        "s=live\r\n"
        f"c=IN IP4 {host}\r\n"
        "t=0 0\r\n"
        f"m=audio {port} RTP/AVP {codec}\r\n"
        f"a=rtpmap:{codec} {CODECS[codec]}/{RATE}\r\n"
        "a=recvonly\r\n"
    ).encode()


def response(
    request: SipMessage,
    code: int,
    reason: str,
    *,
    to_tag: str = "",
    extra: str = "",
    body: bytes = b"",
) -> bytes:
    """A response to `request`: its Via, From, To (with `to_tag` added if it has none), Call-ID
    and CSeq copied, then `extra` header lines."""
    lines = [f"SIP/2.0 {code} {reason}"]
    lines += [f"Via: {v}" for v in request.all("via")]
    to = request.get("to")
    if to_tag and ";tag=" not in to:
        to = f"{to};tag={to_tag}"
    lines += [f"From: {request.get('from')}", f"To: {to}"]
    lines += [f"Call-ID: {request.get('call-id')}", f"CSeq: {request.get('cseq')}"]
    if extra:
        lines.append(extra)
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def rtp_payload(packet: bytes) -> tuple[int, bytes]:
    """(payload type, payload) of an RTP packet; LiveAudioError when it is not one."""
    if len(packet) < RTP_HEADER or packet[0] >> 6 != 2:
        raise LiveAudioError(f"not an RTP packet ({len(packet)} bytes)")
    offset = RTP_HEADER + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10:  # header extension
        if len(packet) < offset + 4:
            raise LiveAudioError("RTP header extension truncated")
        offset += 4 + 4 * int.from_bytes(packet[offset + 2 : offset + 4], "big")
    end = len(packet)
    if packet[0] & 0x20:  # padding
        end -= packet[-1]
    if offset > end:
        raise LiveAudioError("RTP packet shorter than its header")
    return packet[1] & 0x7F, packet[offset:end]


# -- the listener -------------------------------------------------------------------------------


class _Rtp(asyncio.DatagramProtocol):
    def __init__(self, call: _Call) -> None:
        self.call = call

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        try:
            payload_type, payload = rtp_payload(data)
        except LiveAudioError as exc:
            log.debug("live stream %s: %s", self.call.stream_id, exc)
            return
        if payload_type == self.call.codec and payload:
            self.call.items.put_nowait(AudioChunk(RATE, g711_to_linear(payload, payload_type)))


@dataclass
class _Call:
    call_id: str
    stream_id: str
    codec: int
    tag: str
    answer: bytes = b""
    items: asyncio.Queue[LiveAudio | None] = field(default_factory=asyncio.Queue)
    rtp: asyncio.DatagramTransport | None = None
    task: asyncio.Task[None] | None = None
    ended: bool = False

    def end(self) -> None:
        if not self.ended:
            self.ended = True
            self.items.put_nowait(None)
        if self.rtp is not None:
            self.rtp.close()

    async def iterate(self) -> AsyncIterator[LiveAudio]:
        while (item := await self.items.get()) is not None:
            yield item


class SipLiveListener(asyncio.DatagramProtocol):
    """`LiveAudioListener` for FreeSWITCH: each answered SIP call is one stream."""

    def __init__(self) -> None:
        self._transport: asyncio.DatagramTransport | None = None
        self._handle: LiveAudioHandler | None = None
        self._calls: dict[str, _Call] = {}
        self._host = "127.0.0.1"
        self._port = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int, handle: LiveAudioHandler) -> int:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(host, port))
        self._transport = transport
        self._handle = handle
        self._host = host
        self._port = int(transport.get_extra_info("sockname")[1])
        return self._port

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        for call in self._calls.values():
            call.end()
        tasks = list(self._tasks)
        if tasks:
            await asyncio.wait(tasks)

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        if not data.strip():  # keep-alive
            return
        try:
            message = parse_message(data)
        except LiveAudioError as exc:
            log.warning("live SIP listener: datagram from %s dropped: %s", addr, exc)
            return
        if not message.method:
            return  # a response: nothing here sends requests
        peer = (str(addr[0]), int(addr[1]))
        method = message.method
        if method == "INVITE":
            self._invite(message, peer)
        elif method == "ACK":
            pass
        elif method in ("BYE", "CANCEL"):
            self._send(response(message, 200, "OK"), peer)
            call = self._calls.pop(message.get("call-id"), None)
            if call is not None:
                call.end()
        else:
            self._send(response(message, 501, "Not Implemented"), peer)

    def _send(self, data: bytes, peer: tuple[str, int]) -> None:
        if self._transport is not None:
            self._transport.sendto(data, peer)

    def _invite(self, message: SipMessage, peer: tuple[str, int]) -> None:
        call_id = message.get("call-id")
        known = self._calls.get(call_id)
        if known is not None:  # a retransmission or a re-INVITE: the same answer
            self._send(self._ok(message, known), peer)
            return
        try:
            stream_id = stream_id_of(message.uri)
            offer = parse_sdp(message.body)
        except LiveAudioError as exc:
            log.warning("live SIP listener: INVITE from %s refused: %s", peer, exc)
            self._send(response(message, 488, "Not Acceptable Here", to_tag="x"), peer)
            return
        codec = next((p for p in offer.payloads if p in CODECS), None)
        if codec is None:
            log.warning("live SIP listener: INVITE offers no G.711 (%s)", offer.payloads)
            self._send(response(message, 488, "Not Acceptable Here", to_tag="x"), peer)
            return
        call = _Call(call_id, stream_id, codec, secrets.token_hex(6))
        self._calls[call_id] = call
        task = asyncio.ensure_future(self._answer(call, message, peer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _ok(self, message: SipMessage, call: _Call) -> bytes:
        contact = f"Contact: <sip:{USER_PREFIX}{call.stream_id}@{self._host}:{self._port}>"
        extra = f"{contact}\r\nContent-Type: application/sdp"
        return response(message, 200, "OK", to_tag=call.tag, extra=extra, body=call.answer)

    async def _answer(self, call: _Call, message: SipMessage, peer: tuple[str, int]) -> None:
        loop = asyncio.get_running_loop()
        rtp, _ = await loop.create_datagram_endpoint(lambda: _Rtp(call), local_addr=(self._host, 0))
        call.rtp = rtp
        port = int(rtp.get_extra_info("sockname")[1])
        call.answer = answer_sdp(self._host, port, call.codec, secrets.randbelow(1 << 31))
        if call.ended:  # cancelled meanwhile
            rtp.close()
            return
        self._send(self._ok(message, call), peer)
        call.items.put_nowait(StreamStarted(call.stream_id))
        assert self._handle is not None
        try:
            await self._handle(f"{peer[0]}:{peer[1]}", call.iterate())
        finally:
            call.end()
            self._calls.pop(call.call_id, None)
            with contextlib.suppress(Exception):
                rtp.close()
