"""The registry hands each node to its kind's wing: the driver gets the node's own settings
(its dial strings, its control link), the live-audio listener is the wing's; a center with
nodes of several kinds listens for each at one address."""

from __future__ import annotations

import asyncio
import shutil
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from callcenter.config import load_config
from callcenter.pbx.asterisk import audiosocket
from callcenter.pbx.asterisk.driver import AsteriskDriver
from callcenter.pbx.base import LiveAudio, LiveAudioListeners, StreamStarted
from callcenter.pbx.registry import DEFAULT_KIND, KINDS, live_listener, wing
from callcenter.service import ServiceOptions, build_drivers, queue_members
from tests.unit.fakes import SHIPPED_CONFIG


def test_the_driver_of_a_node_comes_from_its_wing_with_the_node_settings(tmp_path: Path) -> None:
    directory = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG, directory)
    center = directory / "center.toml"
    text = center.read_text(encoding="utf-8")
    center.write_text(
        text.replace(
            'ami_user = "callcenter"',
            'ami_user = "callcenter"\nagent_dial = "PJSIP/{extension}@proxy"\n'
            'outbound_dial = "PJSIP/{number}@other-carrier"',
        ),
        encoding="utf-8",
    )
    config = load_config(directory)
    (node,) = config.nodes
    assert node.kind == DEFAULT_KIND == "asterisk"
    drivers = build_drivers(config, ServiceOptions(secrets={node.name: "from-the-sandbox"}))
    driver = drivers[node.name]
    assert isinstance(driver, AsteriskDriver)
    assert driver.node == node.name
    assert driver._dials["1001"] == "PJSIP/1001@proxy"
    assert driver._phone_dial.format(extension="9001") == "PJSIP/9001@proxy"
    assert driver._outbound_dial.format(number="13800000000") == "PJSIP/13800000000@other-carrier"
    assert queue_members(config)["1001"].interface == "PJSIP/1001@proxy"


def test_each_kind_has_its_wing() -> None:
    assert list(KINDS) == ["asterisk", "freeswitch"]
    assert isinstance(wing("asterisk").live_audio(), audiosocket.AudioSocketListener)


async def test_nodes_of_both_kinds_are_heard_at_one_address_tcp_and_udp() -> None:
    assert isinstance(live_listener(["asterisk", "asterisk"]), audiosocket.AudioSocketListener)
    listener = live_listener(["asterisk", "freeswitch", "asterisk"])
    assert isinstance(listener, LiveAudioListeners) and len(listener.listeners) == 2
    started: list[str] = []

    async def handle(peer: str, items: AsyncIterator[LiveAudio]) -> None:
        async for item in items:
            if isinstance(item, StreamStarted):
                started.append(item.stream_id)

    port = await listener.start("127.0.0.1", 0, handle)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        stream = uuid.uuid4()
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(audiosocket.frame(audiosocket.KIND_UUID, stream.bytes))
        writer.write(audiosocket.frame(audiosocket.KIND_HANGUP))
        await writer.drain()
        options = (
            f"OPTIONS sip:x@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9\r\n"
            "Call-ID: o1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
        udp.settimeout(10)  # a bound for a broken run
        udp.sendto(options.encode(), ("127.0.0.1", port))
        reply, _ = await asyncio.to_thread(udp.recvfrom, 4096)
        assert reply.startswith(b"SIP/2.0 501 ")  # the SIP listener answers on the same port

        async def heard() -> None:
            while not started:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(heard(), 10)
        writer.close()
    finally:
        udp.close()
        await listener.close()
    assert started == [str(stream)]
