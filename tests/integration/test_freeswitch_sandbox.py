"""The sandbox FreeSWITCH and the event-socket client, proven with real SIP and RTP.

A pjsua2 agent registers to a real FreeSWITCH (built from the release tarballs into the
cached root, started chrooted on loopback); a pjsua2 caller dials the hotline; the ESL client
sees the caller parked with the dialplan's channel variables and music on hold, originates to
the agent and bridges the two; each side hears the other's tone; both legs' ends are seen.

Ports (the slot's bands, tests/integration/ports.py): FreeSWITCH SIP CONTROL + 500, ESL + 521,
RTP + 600..999, these test phones' SIP + 400.. and RTP from the phones band (slot 0: 25500,
25521, 25600-25999, 25400.. and 29000..). No Asterisk here: the
directory's autouse fixture is replaced below.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
import wave
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

from callcenter.pbx.freeswitch.esl import (
    EslAuthError,
    EslClient,
    EslCommandError,
    EslConnectionLost,
    EslEvent,
)
from callcenter.pbx.freeswitch.sandbox import Instance, ensure_root
from callcenter.simulation import Event, Softphone, dominant_frequency, write_tone
from tests.integration.harness import closed_wav, tone_levels
from tests.integration.ports import BANDS, CONTROL, SLOT

pytestmark = pytest.mark.pbx

AGENT, ABSENT, CALLER = "2001", "2002", "13800000001"
PHONE_SIP = CONTROL + 400
PHONE_RTP = BANDS["phones"].start


@pytest.fixture(autouse=True)
def agents_ready() -> None:
    """Replaces the directory's fixture: these tests need no Asterisk and no engine."""


@pytest.fixture(scope="module")
def fs() -> Iterator[Instance]:
    instance = Instance(
        name=f"it{SLOT}",
        sip_port=CONTROL + 500,
        esl_port=CONTROL + 521,
        rtp_start=CONTROL + 600,
        rtp_end=CONTROL + 999,
        agents=(AGENT, ABSENT),
        root=ensure_root(),  # builds once; raises (never skips) when it cannot
    )
    instance.stop()  # one a crashed run left behind
    try:
        instance.start()
        yield instance
    finally:
        instance.stop()


class Recorder:
    """Every event of one connection, kept in order, with a way to wait for one."""

    def __init__(self, client: EslClient) -> None:
        self.client = client
        self.events: list[EslEvent] = []
        self.changed = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        with contextlib.suppress(EslConnectionLost):
            async for event in self.client.events():
                self.events.append(event)
                self.changed.set()

    async def wait(self, predicate: Callable[[EslEvent], bool], what: str) -> EslEvent:
        deadline = time.monotonic() + 60  # a bound for a broken run, not a timing assertion
        seen = 0
        while True:
            for event in self.events[seen:]:
                if predicate(event):
                    return event
            seen = len(self.events)
            left = deadline - time.monotonic()
            if left <= 0:
                names = [e.name for e in self.events[-30:]]
                raise AssertionError(f"no {what} within 60 s; last events: {names}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)


def _hold_music(recording: Path) -> tuple[float, float]:
    """What the caller heard in its first second (0.2-1.2 s, before any agent): the level of
    the strongest hold-music note relative to the strongest bin, and the RMS level."""
    import numpy as np

    notes = (392.0, 493.9, 587.3, 784.0)  # the sandbox's hold music (write_hold_music)
    level = max(tone_levels(recording, notes, 0.2, 1.2))
    with wave.open(str(recording), "rb") as w:
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    piece = samples[int(0.2 * rate) : int(1.2 * rate)]
    return level, float(np.sqrt(np.mean(piece**2))) if piece.size else 0.0


def _hung_up(leg: str, event: EslEvent) -> bool:
    return event.name == "CHANNEL_HANGUP_COMPLETE" and event.uuid == leg


async def _phone_event(phone: Softphone, predicate: Callable[[Event], bool]) -> Event:
    return await asyncio.to_thread(phone.wait_for, predicate, 60)


async def test_caller_parked_then_bridged_to_agent_with_audio_both_ways(
    fs: Instance, tmp_path: Path
) -> None:
    recordings = tmp_path / "recordings"
    agent = Softphone(
        f"{fs.host}:{fs.sip_port}",
        port=PHONE_SIP,
        accounts=[(AGENT, fs.agent_password(AGENT))],
        play=str(write_tone(tmp_path / "agent.wav", 440)),
        record_dir=str(recordings),
        rtp_port=PHONE_RTP,
        answer_delay=1.5,  # the caller hears at least this much hold music before the agent
    )
    caller = Softphone(
        f"{fs.host}:{fs.sip_port}",
        port=PHONE_SIP + 1,
        accounts=[(CALLER, "")],
        play=str(write_tone(tmp_path / "caller.wav", 700)),
        record_dir=str(recordings),
        rtp_port=PHONE_RTP + 100,
    )
    client = fs.esl()
    await client.connect()
    seen = Recorder(client)
    try:
        await asyncio.to_thread(agent.wait_registered, 60)
        await _phone_event(caller, lambda e: e.get("event") == "ready")
        contact = await client.api(f"sofia_contact */{AGENT}@{fs.domain}")
        assert f":{PHONE_SIP}" in contact, contact

        caller.call(CALLER, "12345")
        parked = await seen.wait(
            lambda e: e.name == "CHANNEL_PARK" and e.get("Caller-Caller-ID-Number") == CALLER,
            "CHANNEL_PARK for the caller",
        )
        caller_uuid = parked.uuid
        assert parked.var("cc_queue") == "general"
        assert parked.var("cc_priority") == "0"
        assert parked.var("cc_did") == "12345"
        arrival_us = int(parked.var("cc_arrival_us"))
        assert 0 < arrival_us <= int(parked.get("Event-Date-Timestamp"))
        music = await seen.wait(
            lambda e: e.name == "PLAYBACK_START" and e.uuid == caller_uuid,
            "music on hold for the parked caller",
        )
        assert music.get("Playback-File-Path") == "local_stream://moh"

        agent_uuid = str(uuid.uuid4())
        reply = await client.bgapi(
            f"originate {{origination_uuid={agent_uuid},originate_timeout=60}}"
            f"user/{AGENT}@{fs.domain} &park()"
        )
        assert reply.startswith(f"+OK {agent_uuid}"), reply
        await client.api(f"uuid_break {caller_uuid} all")
        assert (await client.api(f"uuid_bridge {caller_uuid} {agent_uuid}")).startswith("+OK")
        await seen.wait(
            lambda e: (
                e.name == "CHANNEL_BRIDGE"
                and {e.uuid, e.get("Other-Leg-Unique-ID")} == {caller_uuid, agent_uuid}
            ),
            "CHANNEL_BRIDGE of caller and agent",
        )
        await _phone_event(agent, lambda e: e.get("event") == "confirmed")

        talk_from = time.monotonic()  # four seconds of talk (a duration, not an assertion)
        while time.monotonic() - talk_from < 4:
            await asyncio.sleep(0.1)
        caller.hangup(CALLER)
        for leg in (caller_uuid, agent_uuid):
            ended = await seen.wait(partial(_hung_up, leg), f"the end of leg {leg}")
            assert ended.get("Hangup-Cause") == "NORMAL_CLEARING", ended.get("Hangup-Cause")

        heard_by_agent = await _phone_event(agent, lambda e: e.get("event") == "disconnected")
        heard_by_caller = await _phone_event(caller, lambda e: e.get("event") == "disconnected")
        freq_agent, level_agent = dominant_frequency(closed_wav(str(heard_by_agent["recording"])))
        freq_caller, level_caller = dominant_frequency(
            closed_wav(str(heard_by_caller["recording"]))
        )
        assert abs(freq_agent - 700) < 15 and level_agent > 500, (freq_agent, level_agent)
        assert abs(freq_caller - 440) < 15 and level_caller > 500, (freq_caller, level_caller)
        hold = _hold_music(closed_wav(str(heard_by_caller["recording"])))
        assert hold[0] > 0.5 and hold[1] > 200, hold  # a note of the hold music, not silence
        order = [e.name for e in seen.events if e.uuid in (caller_uuid, agent_uuid)]
        assert order.index("CHANNEL_PARK") < order.index("CHANNEL_BRIDGE")
        assert order.index("CHANNEL_BRIDGE") < order.index("CHANNEL_HANGUP_COMPLETE")
    finally:
        await client.close()
        seen.task.cancel()
        agent.close()
        caller.close()


async def test_originate_to_unregistered_agent_fails_at_once(fs: Instance) -> None:
    async with fs.esl() as client:
        # a minute's ring timeout: the answer must be the cause, not the timeout running out
        reply = await client.bgapi(
            f"originate {{originate_timeout=60}}user/{ABSENT}@{fs.domain} &park()", check=False
        )
        assert reply.strip() == "-ERR USER_NOT_REGISTERED", reply
        with pytest.raises(EslCommandError, match="USER_NOT_REGISTERED"):
            await client.bgapi(f"originate user/{ABSENT}@{fs.domain} &park()")


async def test_esl_refuses_a_wrong_password_naming_where(fs: Instance) -> None:
    client = EslClient(fs.host, fs.esl_port, "not-" + fs.esl_password, user="")
    with pytest.raises(EslAuthError) as refused:
        await client.connect()
    assert f"{fs.host}:{fs.esl_port}" in str(refused.value)
    named = EslClient(fs.host, fs.esl_port, fs.esl_password, user=f"engine@{fs.domain}")
    with pytest.raises(EslAuthError, match=f"engine@{fs.domain}"):
        await named.connect()


async def test_esl_acl_turns_away_other_addresses(fs: Instance) -> None:
    """The event socket's ACL allows the host's own address only: the right password from
    another loopback address is refused before authentication."""
    outsider = EslClient(fs.host, fs.esl_port, fs.esl_password, local_host="127.0.0.2")
    with pytest.raises(EslAuthError, match="refused the connection"):
        await outsider.connect()
    async with EslClient(fs.host, fs.esl_port, fs.esl_password, local_host=fs.host) as insider:
        assert "UP" in await insider.api("status")


async def test_esl_client_survives_a_dropped_connection(fs: Instance) -> None:
    client = fs.esl(events=("CUSTOM cc::probe",))
    await client.connect()
    try:
        recorder = Recorder(client)
        assert "UP" in await client.api("status")
        # FreeSWITCH ends the connection (as when it restarts): everything waiting fails
        # cleanly instead of hanging, and the event stream ends with the same error
        await client.command("exit")
        await asyncio.wait_for(recorder.task, 30)
        with pytest.raises(EslConnectionLost, match=f"{fs.host}:{fs.esl_port}"):
            await client.api("status")
        await client.connect()  # and the same client connects and subscribes again
        recorder = Recorder(client)
        await client.command("sendevent CUSTOM\nEvent-Subclass: cc::probe\ncc-seq: 7")
        event = await recorder.wait(
            lambda e: e.get("Event-Subclass") == "cc::probe", "the custom event after reconnect"
        )
        assert event.get("cc-seq") == "7"
        assert "UP" in await client.api("status")
    finally:
        await client.close()
