"""The project's softphone lasts a shift: one pjsua2 process (two agents) answers 320 calls
from the sandbox Asterisk, playing audio and recording every call, frees each call's media and
sockets when it ends, and quits with exit status 0.

Before, a call's pjsua2 object outlived its call; pjsua reuses its 4 call ids, so the stale
object's destructor cleared (and hung up) the next call on the same id. Calls were lost, their
players and recorders never freed (player creation failed once pjsua's pool of them ran out),
and at quit objects destroyed after libDestroy() aborted the process (SIGABRT).

No engine here: Asterisk dials the agents straight from two test numbers, and sipp callers
send real SIP and A-law RTP. The instance has its own ports (inside this session's slot).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from callcenter.config import load_config
from callcenter.paths import REPO
from callcenter.pbx.asterisk.sandbox import Instance, ensure_root
from callcenter.simulation import Sipp, Softphone, dominant_frequency, write_tone
from tests.integration.harness import closed_wav, wait_until
from tests.integration.ports import CONTROL, SLOT

pytestmark = pytest.mark.pbx

CALLS = 320  # more than the ~256 calls after which the softphone used to fail
BASE = CONTROL + 500  # CONTROL + 500..999: no port of the session's Center
SIP, AMI = BASE + 60, BASE + 38
PHONE_SIP, SIPP_SIP = BASE + 61, BASE + 62
RTP = (BASE + 100, BASE + 299)
PHONE_RTP, SIPP_RTP = BASE + 300, BASE + 400
AGENTS = ("1001", "1002")

DIALPLAN = "".join(
    f"exten => 1900{i + 1},1,Dial(PJSIP/{agent},30,m(default))\n" for i, agent in enumerate(AGENTS)
)


@pytest.fixture(autouse=True)
def agents_ready() -> Iterator[None]:
    """This module needs no engine: it replaces the package's agents_ready (which starts
    the session's Center) with nothing."""
    yield


@pytest.fixture(scope="module")
def pbx() -> Iterator[Instance]:
    ensure_root()
    instance = Instance(
        name=f"shift{SLOT}",
        sip_port=SIP,
        ami_port=AMI,
        rtp_start=RTP[0],
        rtp_end=RTP[1],
        emergency_port=BASE + 99,
        carrier_port=BASE + 98,
        # sipp is an unidentified caller (cc-public); the test numbers ring an agent
        local_dialplan="[cc-public]\n" + DIALPLAN,
    )
    instance.stop()
    instance.render(load_config(REPO / "config"))
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_one_softphone_process_answers_a_shift_and_quits_cleanly(
    pbx: Instance, tmp_path: Path
) -> None:
    heard = tmp_path / "heard"
    heard.mkdir()
    phone = Softphone(
        f"127.0.0.1:{SIP}",
        port=PHONE_SIP,
        accounts=[(a, pbx.agent_password(a)) for a in AGENTS],
        play=str(write_tone(tmp_path / "agent700.wav", 700.0, seconds=5)),
        record_dir=str(heard),
        rtp_port=PHONE_RTP,
        answer_delay=0.1,
        talk=(0.6, 1.0),
    )
    try:
        phone.wait_registered(60)
        fds_before = open_fds(phone.proc.pid)

        sipp = Sipp(pbx, local_port=SIPP_SIP)
        calls = ((f"1900{1 + i % 2}", f"1380013{i:04d}") for i in range(CALLS))
        sipp.start(calls, rate=4, patience=60, limit=4, rtp_port=SIPP_RTP)
        result = sipp.wait(1200)

        # every caller was answered and hung up on by the agent (sipp got BYE)
        assert (result.successful, result.failed) == (CALLS, 0), result.stdout[-1500:]
        ended = phone.seen(lambda e: e.get("event") == "disconnected")
        assert len(phone.seen(lambda e: e.get("event") == "incoming")) == CALLS
        assert len(ended) == CALLS
        assert {e["code"] for e in ended} == {200}

        # audio in every call to the end of the shift: each call's recording holds some of
        # the caller's speech (sipp's A-law sample; a call without media records zeros)
        silent = [
            e["call"]
            for e in ended
            if dominant_frequency(closed_wav(e["recording"], 60), skip=0.1)[1] < 1.0
        ]
        assert not silent, f"calls that recorded silence: {silent}"

        # each call's players, recorders and RTP sockets were freed
        wait_until(
            lambda: open_fds(phone.proc.pid) <= fds_before,
            60,
            f"the softphone's open files back to {fds_before}",
        )

        phone.send(cmd="quit")
        code = phone.proc.wait(60)
        stderr = phone.proc.stderr.read() if phone.proc.stderr else ""
        assert code == 0, f"the softphone exited with {code}: {stderr[-2000:]}"
    finally:
        phone.close()
