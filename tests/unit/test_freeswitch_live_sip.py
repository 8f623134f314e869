"""The SIP/RTP end of FreeSWITCH's live audio (callcenter/pbx/freeswitch/live_sip.py): its
parsing, G.711 decoding (checked against the standard library's audioop), and the whole
exchange over real UDP sockets on loopback, the test playing FreeSWITCH's part."""

from __future__ import annotations

import asyncio
import socket
import uuid
import warnings
from collections.abc import AsyncIterator

import pytest

from callcenter.pbx.base import AudioChunk, LiveAudio, LiveAudioError, StreamStarted
from callcenter.pbx.freeswitch.live_sip import (
    PCMA,
    PCMU,
    SipLiveListener,
    g711_to_linear,
    parse_message,
    parse_sdp,
    rtp_payload,
    stream_id_of,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

STREAM = "8d1f0c3e-5b0a-4c1e-9a57-0f3c2b1d4e6a"


def test_g711_decodes_every_byte_like_audioop() -> None:
    every = bytes(range(256))
    assert g711_to_linear(every, PCMU) == audioop.ulaw2lin(every, 2)
    assert g711_to_linear(every, PCMA) == audioop.alaw2lin(every, 2)


def test_message_headers_compact_folded_and_body_cut_at_content_length() -> None:
    data = (
        b"INVITE sip:live-x@127.0.0.1:5060 SIP/2.0\r\n"
        b"v: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK1\r\n"
        b"Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK2\r\n"
        b"i: abc@host\r\n"
        b"Subject: one\r\n two\r\n"
        b"l: 3\r\n\r\nbodyextra"
    )
    m = parse_message(data)
    assert (m.method, m.uri) == ("INVITE", "sip:live-x@127.0.0.1:5060")
    assert m.all("via") == [
        "SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK1",
        "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK2",
    ]
    assert m.get("call-id") == "abc@host"
    assert m.get("subject") == "one two"
    assert m.body == b"bod"
    assert parse_message(b"SIP/2.0 200 OK\r\nCSeq: 1 BYE\r\n\r\n").method == ""


@pytest.mark.parametrize(
    "data",
    [
        b"INVITE sip:a@b SIP/2.0\r\nVia: x\r\n",
        b"HELLO\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\nbad\r\n\r\n",
    ],
)
def test_not_a_sip_message(data: bytes) -> None:
    with pytest.raises(LiveAudioError):
        parse_message(data)


def test_stream_id_from_the_request_uri_user() -> None:
    assert stream_id_of(f"sip:live-{STREAM.upper()}@127.0.0.1:9;transport=udp") == STREAM
    for uri in ("sip:1001@127.0.0.1", "sip:live-nope@127.0.0.1", "tel:123", "sip:127.0.0.1"):
        with pytest.raises(LiveAudioError):
            stream_id_of(uri)


def test_sdp_offer_media_address_wins_over_session_address() -> None:
    body = (
        b"v=0\r\no=FreeSWITCH 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
        b"m=audio 16384 RTP/AVP 0 8 101\r\nc=IN IP4 127.0.0.2\r\n"
        b"a=rtpmap:101 telephone-event/8000\r\n"
    )
    assert parse_sdp(body).host == "127.0.0.2"
    assert parse_sdp(body).port == 16384
    assert parse_sdp(body).payloads == (0, 8, 101)
    with pytest.raises(LiveAudioError):
        parse_sdp(b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=video 5000 RTP/AVP 96\r\n")


def rtp(payload: bytes, pt: int = PCMU, seq: int = 1, csrc: int = 0, ext: bytes = b"") -> bytes:
    first = 0x80 | csrc | (0x10 if ext else 0)
    head = bytes([first, pt]) + seq.to_bytes(2, "big") + (seq * 160).to_bytes(4, "big")
    head += (0x1234).to_bytes(4, "big") + b"\0\0\0\1" * csrc
    if ext:
        head += b"\xbe\xde" + (len(ext) // 4).to_bytes(2, "big") + ext
    return head + payload


def test_rtp_payload_after_csrcs_extension_and_before_padding() -> None:
    assert rtp_payload(rtp(b"abc", PCMA, csrc=2, ext=b"1234")) == (PCMA, b"abc")
    padded = bytearray(rtp(b"abcd\0\0\0\3"))
    padded[0] |= 0x20
    assert rtp_payload(bytes(padded)) == (PCMU, b"abcd\0")
    for bad in (b"\x80\x00", b"\x40" + bytes(11), rtp(b"", ext=b"1234")[:14]):
        with pytest.raises(LiveAudioError):
            rtp_payload(bad)


def request(method: str, uri: str, call_id: str, cseq: int, body: bytes = b"") -> bytes:
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{method}{cseq}",
        "From: <sip:fs@127.0.0.1>;tag=fs1",
        f"To: <{uri}>" + (";tag=x" if method in ("BYE", "ACK") else ""),
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {method}",
    ]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def offer(port: int, payloads: str = "0 8 101") -> bytes:
    return (
        f"v=0\r\no=FS 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP {payloads}\r\n"
    ).encode()


class Peer:
    """A UDP socket playing FreeSWITCH's part."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(10)  # a bound for a broken run, not a timing assertion
        self.target = ("127.0.0.1", port)

    async def ask(self, data: bytes) -> bytes:
        self.sock.sendto(data, self.target)
        reply, _ = await asyncio.to_thread(self.sock.recvfrom, 65536)
        return reply


async def test_a_call_becomes_a_stream_from_invite_to_bye() -> None:
    got: list[LiveAudio] = []
    done = asyncio.Event()

    async def handle(peer: str, items: AsyncIterator[LiveAudio]) -> None:
        async for item in items:
            got.append(item)
        done.set()

    listener = SipLiveListener()
    port = await listener.start("127.0.0.1", 0, handle)
    peer = Peer(port)
    try:
        uri = f"sip:live-{STREAM}@127.0.0.1:{port}"
        ok = parse_message(await peer.ask(request("INVITE", uri, "c1", 1, offer(4000, "8 0"))))
        assert ok.start == "SIP/2.0 200 OK"
        assert ok.get("cseq") == "1 INVITE" and ok.get("call-id") == "c1"
        assert ";tag=" in ok.get("to") and ok.get("via").endswith("branch=z9hG4bKINVITE1")
        answer = parse_sdp(ok.body)
        assert answer.payloads == (PCMA,)  # the first G.711 of the offer
        again = parse_message(await peer.ask(request("INVITE", uri, "c1", 1, offer(4000, "8 0"))))
        assert again.body == ok.body and again.get("to") == ok.get("to")  # a retransmission
        peer.sock.sendto(request("ACK", uri, "c1", 1), peer.target)
        rtp_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        voice = bytes(range(160))
        rtp_sock.sendto(rtp(b"\x01\x02", 101), (answer.host, answer.port))  # DTMF: ignored
        rtp_sock.sendto(rtp(voice, PCMA, 2), (answer.host, answer.port))
        rtp_sock.sendto(b"junk", (answer.host, answer.port))
        rtp_sock.sendto(rtp(voice, PCMA, 3), (answer.host, answer.port))

        async def three() -> None:
            while len(got) < 3:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(three(), 10)  # a bound for a broken run
        unknown = parse_message(await peer.ask(request("OPTIONS", uri, "c2", 1)))
        assert unknown.start == "SIP/2.0 501 Not Implemented"
        bye = parse_message(await peer.ask(request("BYE", uri, "c1", 2)))
        assert bye.start == "SIP/2.0 200 OK" and bye.get("cseq") == "2 BYE"
        await asyncio.wait_for(done.wait(), 10)
        rtp_sock.close()
    finally:
        peer.sock.close()
        await listener.close()
    linear = audioop.alaw2lin(voice, 2)
    assert got == [StreamStarted(STREAM), AudioChunk(8000, linear), AudioChunk(8000, linear)]


async def test_invites_it_cannot_take_are_refused_and_close_ends_the_streams() -> None:
    ended: list[str] = []

    async def handle(peer: str, items: AsyncIterator[LiveAudio]) -> None:
        async for item in items:
            if isinstance(item, StreamStarted):
                ended.append(item.stream_id)

    listener = SipLiveListener()
    port = await listener.start("127.0.0.1", 0, handle)
    peer = Peer(port)
    try:
        not_live = request("INVITE", f"sip:1001@127.0.0.1:{port}", "n1", 1, offer(4000))
        assert (await peer.ask(not_live)).startswith(b"SIP/2.0 488 ")
        uri = f"sip:live-{STREAM}@127.0.0.1:{port}"
        no_g711 = request("INVITE", uri, "n2", 1, offer(4000, "9 101"))
        assert (await peer.ask(no_g711)).startswith(b"SIP/2.0 488 ")
        other = str(uuid.uuid4())
        live = request("INVITE", f"sip:live-{other}@127.0.0.1:{port}", "n3", 1, offer(4000))
        assert (await peer.ask(live)).startswith(b"SIP/2.0 200 ")
    finally:
        peer.sock.close()
        await listener.close()  # ends the open stream: its handler returns
    assert ended == [other]
