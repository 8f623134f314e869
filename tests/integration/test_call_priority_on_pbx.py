"""Priority and skill from the call (issues 16 and 18) on the real sandbox over real SIP, on
both PBX kinds: a trusted upstream proxy's X-CC-Priority-Boost puts its caller ahead of
earlier callers and its X-CC-Skill sets the skill; the same headers from a citizen (no trunk)
or from a trunk not marked trust_headers change nothing; a dialplan variable set by a
site-local extension (Asterisk CC_PRIORITY_BOOST in extensions_local.conf, FreeSWITCH
cc_priority_boost in cc-local/*.xml) raises the priority too."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from callcenter.masking import mask_phone
from callcenter.paths import REPO
from tests.integration.conftest import center_of_kind, on_both_kinds
from tests.integration.harness import (
    PHONE_RTP,
    PLAIN_PROXY_PORT,
    SIP_PORT,
    TRUSTED_PROXY_PORT,
    VIP_DID,
    Center,
    wait_until,
)

pytestmark = pytest.mark.pbx

SCENARIO = REPO / "tools" / "sipp" / "caller_headers.xml"
CITIZEN_PORT = SIP_PORT + 266  # an unidentified caller (not a trunk's address)
ELSEWHERE = "127.0.0.2"

cc = pytest.fixture(center_of_kind, name="cc")  # the center of the test's kind


@contextlib.contextmanager
def sipp_calls(
    cc: Center, name: str, host: str, port: int, rtp: int, calls: list[tuple[str, ...]]
) -> Iterator[subprocess.Popen[str]]:
    """Place `calls` (number dialled, caller number, X-CC-Priority-Boost, X-CC-Skill) with
    sipp from host:port; they wait answered until the PBX hangs them up."""
    instance = cc.sandbox
    work = instance.dir / "headers" / name
    work.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SCENARIO, work / "scenario.xml")
    rows = "".join(";".join(c) + ";\n" for c in calls)
    (work / "calls.csv").write_text("SEQUENTIAL\n" + rows)
    inner = f"{instance.inner}/headers/{name}"
    proc = subprocess.Popen(
        [
            "chroot", str(instance.root), "/usr/bin/sipp", f"{instance.host}:{instance.sip_port}",
            "-sf", f"{inner}/scenario.xml", "-inf", f"{inner}/calls.csv",
            "-i", host, "-p", str(port), "-mp", str(rtp),
            "-m", str(len(calls)), "-l", str(len(calls)), "-r", "1", "-rp", "300",
            "-nostdin", "-timeout", "240s", "-timeout_error",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(30)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def queued(cc: Center, *numbers: str) -> list[dict[str, Any]]:
    """The engine's queue once every one of these callers is in it."""
    masked = {mask_phone(n) for n in numbers}

    def all_in() -> list[dict[str, Any]] | None:
        rows = cc.engine.queue()
        return rows if masked <= {r["caller"] for r in rows} else None

    found: list[dict[str, Any]] = wait_until(all_in, 90, f"callers {numbers} in the queue")
    return found


def skills_of_trunk_calls(cc: Center, trunk: str) -> list[str]:
    """The skill kept on the PBX's channel of each call from this trunk (a restarted engine
    restores the caller from it), sorted."""
    found = []
    if cc.kind == "freeswitch":
        listing = json.loads(cc.fs_api("show channels as json") or "{}")
        for row in listing.get("rows", []) or []:
            u = row.get("uuid", "")
            if cc.fs_api(f"uuid_getvar {u} cc_from_trunk").strip() == trunk:
                found.append(cc.fs_api(f"uuid_getvar {u} cc_skill").strip())
        return sorted(found)
    channels = cc.instance.cli("core show channels concise")
    for name in re.findall(rf"^(PJSIP/{re.escape(trunk)}-[0-9a-f]+)!", channels, flags=re.M):
        shown = cc.instance.cli(f"core show channel {name}")
        skill = re.search(r"(?m)^\s*_*CC_SKILL=(\w+)", shown)
        if skill:
            found.append(skill.group(1))
    return sorted(found)


@on_both_kinds
def test_trusted_header_and_dialplan_variable_go_ahead_untrusted_headers_do_not(
    cc: Center,
) -> None:
    cc.set_all_agents("pause", reason="meeting")
    early, citizen, plain, trusted, vip = (
        "13700000041", "13700000042", "13700000043", "13700000044", "13700000045",
    )  # fmt: skip
    phone = cc.caller(early)
    phone.call(early, "12345")
    queued(cc, early)
    with contextlib.ExitStack() as stack:
        # the same headers from a citizen (no trunk's address) and an untrusted trunk
        stack.enter_context(
            sipp_calls(cc, "citizen", ELSEWHERE, CITIZEN_PORT, PHONE_RTP + 700,
                       [("12345", citizen, "9", "market")])
        )  # fmt: skip
        queued(cc, early, citizen)  # one after the other: arrival order is then known
        stack.enter_context(
            sipp_calls(cc, "plain", "127.0.0.1", PLAIN_PROXY_PORT, PHONE_RTP + 720,
                       [("12345", plain, "9", "market")])
        )  # fmt: skip
        queued(cc, early, citizen, plain)
        # the trusted proxy: one call with the headers, one to the VIP DID whose dialplan
        # sets CC_PRIORITY_BOOST (and a header value that is no number: ignored)
        stack.enter_context(
            sipp_calls(cc, "trusted", "127.0.0.1", TRUSTED_PROXY_PORT, PHONE_RTP + 740,
                       [("12345", trusted, "7", "market"), (VIP_DID, vip, "lots", "astrology")])
        )  # fmt: skip
        rows = queued(cc, early, citizen, plain, trusted, vip)
        by = {r["caller"]: r for r in rows}
        order = [r["caller"] for r in rows]
        assert order == [mask_phone(n) for n in (trusted, vip, early, citizen, plain)], rows
        assert [by[mask_phone(n)]["priority"] for n in (trusted, vip, early, citizen, plain)] == [
            7, 6, 0, 0, 0,
        ]  # fmt: skip
        assert by[mask_phone(trusted)]["skill"] == "market"
        for n in (early, citizen, plain, vip):
            assert by[mask_phone(n)]["skill"] == "general", n
        log = cc.engine.log_path.read_text("utf-8", "replace")
        assert "from number+header:proxy, skill market from header:proxy" in log
        assert "from number+dialplan, skill general from number" in log
        assert "header:proxy: priority boost 'lots' ignored" in log
        assert "header:proxy: unknown skill 'astrology' ignored" in log

        def skills_on_proxy_channels() -> list[str] | None:
            found = skills_of_trunk_calls(cc, "proxy")
            return found if len(found) == 2 and "market" in found else None

        assert wait_until(skills_on_proxy_channels, 60, "the skill kept on the channel") == [
            "general", "market",
        ]  # fmt: skip
        cc.hangup_all()
    phone.wait_for(lambda e: e.get("event") == "disconnected", 60)
    wait_until(lambda: not cc.engine.queue(), 90, "the queue to empty")
