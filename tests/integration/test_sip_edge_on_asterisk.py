"""The SIP edge on the real sandbox: spoofed INVITEs (a trunk's name, an agent's extension,
110, long-distance and international numbers) from addresses that are not the carrier
trunk's reach nothing; Asterisk itself says so (the SIP answer, and its count of calls
processed does not move). The public hotline numbers stay reachable for anyone, and the
carrier trunk is still the carrier trunk from its own address."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from callcenter.paths import REPO
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
    instance = cc.instance
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


def calls_processed(cc: Center) -> int:
    """Asterisk's own count of the calls (channels) it has processed since it started."""
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


@pytest.mark.parametrize("host", [ELSEWHERE, "127.0.0.1"])
def test_spoofed_invites_from_elsewhere_dial_nothing(cc: Center, host: str) -> None:
    """From another loopback address, and from the agents' own address on a port that is
    not the carrier's: every spoof is refused (404: the number does not exist for an
    unidentified caller) and Asterisk creates no channel at all."""
    before = calls_processed(cc)
    answers = {f"{to} as {user}": probe(cc, to, user, host) for to, user in SPOOFED}
    assert answers == {key: 404 for key in answers}
    assert calls_processed(cc) == before, "a spoofed INVITE made a call"


def test_agent_extension_as_caller_must_authenticate(cc: Center) -> None:
    """A From user that is an agent's extension is that agent: challenged for its password
    (401), whatever it dials, and never let through without it."""
    before = calls_processed(cc)
    agent = cc.config.agents[0].extension
    for to in ("110", "12345", cc.config.agents[1].extension, "01087654321"):
        assert probe(cc, to, agent) == 401, to
    assert calls_processed(cc) == before


def test_anyone_reaches_the_public_hotline_numbers(cc: Center) -> None:
    """The unidentified caller's context is the hotline: 12345 and a merged number answer."""
    before = calls_processed(cc)
    assert probe(cc, "12345", "13800000052") == 200
    assert probe(cc, "12333", "carrier") == 200
    assert calls_processed(cc) >= before + 2


def test_the_carrier_trunk_is_known_by_its_address(cc: Center) -> None:
    """A citizen over the carrier trunk (its own address and port) is the `carrier`
    endpoint, and is answered."""
    phone = cc.citizens("13800000053")
    phone.call("13800000053", "12345")

    def carrier_channel() -> bool:
        return "PJSIP/carrier-" in cc.instance.cli("core show channels concise")

    wait_until(carrier_channel, 30, "a channel of the carrier endpoint")
    phone.wait_for(lambda e: e.get("event") == "confirmed", 30)
    phone.hangup("13800000053")
    phone.wait_for(lambda e: e.get("event") == "disconnected", 30)


def test_a_trunk_with_a_password_must_answer_the_challenge(cc: Center) -> None:
    """trunks.toml auth_user: from the trunk's own address, no password or a wrong one
    dials nothing; the right one is answered."""

    def secure(to: str, user: str, credentials: tuple[str, str] | None = None) -> int:
        return probe(cc, to, user, "127.0.0.1", SECURE_TRUNK_PORT, credentials)

    before = calls_processed(cc)
    assert secure("12345", "13800000054") == 401
    assert secure("110", "carrier-secure") == 401
    assert secure("110", "13800000054", ("hotline", "not-the-password")) in (401, 403)
    assert calls_processed(cc) == before, "an unauthenticated INVITE made a call"
    assert secure("12345", "13800000054", ("hotline", os.environ[TRUNK_SECRET_ENV])) == 200
    assert calls_processed(cc) > before
