"""The SIP edge on the real sandbox, on both PBX kinds: spoofed INVITEs (a trunk's name, an
agent's extension, 110, long-distance and international numbers) from addresses that are not
the carrier trunk's reach nothing; the PBX itself says so (the SIP answer, and its count of
calls let in does not move). The public hotline numbers stay reachable for anyone, and the
carrier trunk is still the carrier trunk from its own address and port."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import threading

import pytest

from callcenter.paths import REPO
from callcenter.pbx.freeswitch.esl import EslConnectionLost
from tests.integration.conftest import center_of_kind, on_both_kinds
from tests.integration.harness import (
    PHONE_RTP,
    SECURE_TRUNK_PORT,
    SIP_PORT,
    TRUNK_SECRET_ENV,
    Center,
    wait_until,
)

pytestmark = pytest.mark.pbx

PROBE_SCENARIO = REPO / "tools" / "sipp" / "probe.xml"
PROBE_AUTH_SCENARIO = REPO / "tools" / "sipp" / "probe_auth.xml"
PROBE_PORT = SIP_PORT + 260  # nobody else's: agents are +100.., callers +300..
PROBE_RTP = PHONE_RTP + 600
ELSEWHERE = "127.0.0.2"  # a loopback address that is not the carrier trunk's

cc = pytest.fixture(center_of_kind, name="cc")  # the center of the test's kind


def challenge(cc: Center) -> int:
    """How the PBX challenges an INVITE: Asterisk 401 (WWW-Authenticate), FreeSWITCH 407
    (Proxy-Authenticate)."""
    return 407 if cc.kind == "freeswitch" else 401


def probe(
    cc: Center,
    to: str,
    from_user: str,
    host: str = ELSEWHERE,
    port: int = PROBE_PORT,
    credentials: tuple[str, str] | None = None,
) -> int:
    """Send one INVITE with sipp from `host`:`port` (answering the digest challenge with
    `credentials` when given) and return the final SIP status of the last INVITE."""
    instance = cc.sandbox
    work = instance.dir / "probe"
    work.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROBE_AUTH_SCENARIO if credentials else PROBE_SCENARIO, work / "probe.xml")
    (work / "calls.csv").write_text(f"SEQUENTIAL\n{to};{from_user};\n")
    trace = work / "messages.log"
    trace.unlink(missing_ok=True)
    inner = f"{instance.inner}/probe"
    proc = subprocess.run(
        [
            "chroot",
            str(instance.root),
            "/usr/bin/sipp",
            f"{instance.host}:{instance.sip_port}",
            "-sf",
            f"{inner}/probe.xml",
            "-inf",
            f"{inner}/calls.csv",
            "-i",
            host,
            "-p",
            str(port),
            "-mp",
            str(PROBE_RTP),
            "-m",
            "1",
            "-l",
            "1",
            "-nostdin",
            "-trace_msg",
            "-message_file",
            f"{inner}/messages.log",
            "-timeout",
            "60s",
            "-timeout_error",
            *(["-au", credentials[0], "-ap", credentials[1]] if credentials else []),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    text = trace.read_text(errors="replace") if trace.exists() else ""
    finals: dict[int, int] = {}  # INVITE CSeq -> its final status
    for message in text.split("message received")[1:]:
        status = re.search(r"(?m)^\s*SIP/2\.0 (\d{3})", message)
        cseq = re.search(r"(?mi)^\s*CSeq:\s*(\d+) INVITE", message)
        if status and cseq and int(status.group(1)) >= 200:
            finals.setdefault(int(cseq.group(1)), int(status.group(1)))
    assert finals, f"sipp got no final answer ({proc.returncode}): {proc.stdout[-1500:]}"
    return finals[max(finals)]


class CallsLetIn:
    """FreeSWITCH makes a session for every INVITE and refuses in the dialplan, so what shows
    a call let in is that it was answered or that a call went out for it: this counts the
    CHANNEL_ANSWER events and the CHANNEL_CREATE events of outbound legs, on a private event
    socket connection served by a thread of its own."""

    def __init__(self, cc: Center) -> None:
        self.answered_or_placed = 0
        self._marks = 0  # BACKGROUND_JOB events read: the marks `count` asks for
        self._seen = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._client = cc.fs.esl(events=("CHANNEL_ANSWER", "CHANNEL_CREATE"))
        self._loop.run_until_complete(self._client.connect())
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._read(),))
        self._thread.daemon = True
        self._thread.start()

    async def _read(self) -> None:
        with contextlib.suppress(EslConnectionLost):  # FreeSWITCH stops at the session's end
            async for e in self._client.events():
                with self._seen:
                    if e.name == "CHANNEL_ANSWER" or (
                        e.name == "CHANNEL_CREATE" and e.get("Call-Direction") == "outbound"
                    ):
                        self.answered_or_placed += 1
                    elif e.name == "BACKGROUND_JOB":
                        self._marks += 1
                    self._seen.notify_all()

    def count(self) -> int:
        """The count once every event FreeSWITCH fired before now is read: a background job
        run now is a mark behind them in the same event stream."""
        with self._seen:
            marks = self._marks
        asyncio.run_coroutine_threadsafe(self._client.bgapi("status"), self._loop).result(30)
        with self._seen:
            assert self._seen.wait_for(lambda: self._marks > marks, 30), "no mark came back"
            return self.answered_or_placed


_LISTENERS: dict[int, CallsLetIn] = {}


def calls_let_in(cc: Center) -> int:
    """The calls the PBX let in so far. Asterisk: its own count of the calls (channels) it
    processed since it started (it makes no channel for a request it refuses). FreeSWITCH:
    the calls it answered or placed since the first count (CallsLetIn)."""
    if cc.kind == "freeswitch":
        if id(cc) not in _LISTENERS:
            _LISTENERS[id(cc)] = CallsLetIn(cc)
        return _LISTENERS[id(cc)].count()
    out = cc.instance.cli("core show channels count")
    found = re.search(r"(\d+) calls? processed", out)
    assert found, out
    return int(found.group(1))


# (dialled number, From user): what an attacker tries from an address that is not the trunk's
SPOOFED = [
    ("110", "carrier"),  # the inbound trunk's name: it once reached Dial(PJSIP/110@emergency)
    ("119", "carrier-out"),  # the outbound trunk's name
    ("120", "emergency"),  # the emergency trunk's name
    ("122", "anonymous"),
    ("1001", "carrier"),  # an agent's extension
    ("9001", "13800000051"),  # the supervisor's extension
    ("01087654321", "carrier"),  # long distance
    ("13912345678", "carrier-out"),  # a mobile: an outbound route
    ("0044207946000", "carrier"),  # international
    ("00861012345", "carrier"),
    ("s", "carrier"),
]


@on_both_kinds
@pytest.mark.parametrize("host", [ELSEWHERE, "127.0.0.1"])
def test_spoofed_invites_from_elsewhere_dial_nothing(cc: Center, host: str) -> None:
    """From another loopback address, and from the agents' own address on a port that is
    not the carrier's: every spoof is refused (404: the number does not exist for an
    unidentified caller) and the PBX lets no call in (Asterisk creates no channel at all)."""
    before = calls_let_in(cc)
    answers = {f"{to} as {user}": probe(cc, to, user, host) for to, user in SPOOFED}
    assert answers == {key: 404 for key in answers}
    assert calls_let_in(cc) == before, "a spoofed INVITE made a call"


@on_both_kinds
def test_agent_extension_as_caller_must_authenticate(cc: Center) -> None:
    """A From user that is an agent's extension is that agent: challenged for its password
    (Asterisk 401, FreeSWITCH 407), whatever it dials, and never let through without it; a
    wrong password is refused, the right one reaches the hotline."""
    before = calls_let_in(cc)
    agent = cc.config.agents[0].extension
    for to in ("110", "12345", cc.config.agents[1].extension, "01087654321"):
        assert probe(cc, to, agent) == challenge(cc), to
    assert probe(cc, "110", agent, credentials=(agent, "not-the-password")) in (
        challenge(cc),
        403,
    )
    assert calls_let_in(cc) == before
    password = cc.phone_password(agent)
    assert probe(cc, "12345", agent, credentials=(agent, password)) == 200
    assert calls_let_in(cc) > before


@on_both_kinds
def test_anyone_reaches_the_public_hotline_numbers(cc: Center) -> None:
    """The unidentified caller's context is the hotline: 12345 and a merged number answer."""
    before = calls_let_in(cc)
    assert probe(cc, "12345", "13800000052") == 200
    assert probe(cc, "12333", "carrier") == 200
    assert calls_let_in(cc) >= before + 2


@on_both_kinds
def test_the_carrier_trunk_is_known_by_its_address(cc: Center) -> None:
    """A citizen over the carrier trunk (its own address and port) is the `carrier` trunk
    (Asterisk: its endpoint; FreeSWITCH: its ACL list and context), and is answered."""
    phone = cc.citizens("13800000053")
    phone.call("13800000053", "12345")

    def carrier_channel() -> bool:
        if cc.kind == "freeswitch":
            listing = json.loads(cc.fs_api("show channels as json") or "{}")
            return any(
                cc.fs_api(f"uuid_getvar {row.get('uuid')} cc_from_trunk").strip() == "carrier"
                for row in listing.get("rows", []) or []
            )
        return "PJSIP/carrier-" in cc.instance.cli("core show channels concise")

    wait_until(carrier_channel, 30, "a channel of the carrier trunk")
    phone.wait_for(lambda e: e.get("event") == "confirmed", 30)
    phone.hangup("13800000053")
    phone.wait_for(lambda e: e.get("event") == "disconnected", 30)


@on_both_kinds
def test_a_trunk_with_a_password_must_answer_the_challenge(cc: Center) -> None:
    """trunks.toml auth_user: from the trunk's own address, no password or a wrong one
    dials nothing; the right one is answered."""

    def secure(to: str, user: str, credentials: tuple[str, str] | None = None) -> int:
        return probe(cc, to, user, "127.0.0.1", SECURE_TRUNK_PORT, credentials)

    before = calls_let_in(cc)
    assert secure("12345", "13800000054") == challenge(cc)
    assert secure("110", "carrier-secure") == challenge(cc)
    assert secure("110", "13800000054", ("hotline", "not-the-password")) in (challenge(cc), 403)
    assert calls_let_in(cc) == before, "an unauthenticated INVITE made a call"
    assert secure("12345", "13800000054", ("hotline", os.environ[TRUNK_SECRET_ENV])) == 200
    assert calls_let_in(cc) > before
