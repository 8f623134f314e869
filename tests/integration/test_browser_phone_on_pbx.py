"""The agent's phone in the browser (WebRTC), for real, on each PBX kind: headless Debian
Chromium opens the agent workspace, whose SIP.js phone registers over secure WebSocket to the
sandbox PBX (Asterisk's HTTP server, FreeSWITCH's sofia profile; a certificate the sandbox
made), a pjsua2 caller dials 12345, the page rings, the agent answers and hangs up from the
page. The fake microphone plays 700 Hz and the caller 440 Hz: the caller's recording and a
WebAudio analyser in the page each hear the other's tone (DTLS-SRTP both ways). A browser
agent that closes its tab (or whose tab crashes) is not offered the next call. Browser and
PBX CPU per call are measured and printed (no timing assertions)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from callcenter.simulation import dominant_frequency, write_tone
from tests.integration.conftest import center_of_kind, on_both_kinds
from tests.integration.harness import Center, closed_wav, tone_levels, wait_until

pytestmark = pytest.mark.pbx

CHROMIUM = Path("/usr/bin/chromium")
AGENT = "1005"  # the harness's browser agent (phone = "browser", general 5)
WEBRTC_MIME = {"opus": "opus", "alaw": "pcma", "ulaw": "pcmu"}  # [webrtc] codecs -> MIME
CALLER_HZ, AGENT_HZ, OPERATOR_HZ = 440.0, 700.0, 550.0  # the tones each side plays

cc = pytest.fixture(center_of_kind, name="cc")  # the center of the test's kind


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        raise AssertionError("Debian's chromium is not installed (make setup installs it)")
    microphone = write_tone(tmp_path_factory.mktemp("browser") / "agent700.wav", AGENT_HZ)
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={microphone}",
                "--allow-loopback-in-peer-connection",
                "--autoplay-policy=no-user-gesture-required",
                "--ignore-certificate-errors",  # the sandbox's own certificate
            ],
        )
        try:
            yield b
        finally:
            b.close()


def _agent(cc: Center) -> dict[str, object]:
    return cc.engine.agents()[AGENT]


def _only_browser_agent_ready(cc: Center) -> None:
    cc.set_all_agents("pause", reason="会议")
    cc.engine.post(f"/api/agents/{AGENT}/login")
    cc.engine.post(f"/api/agents/{AGENT}/resume")


def _only_browser_agent_waiting(cc: Center) -> None:
    """The browser agent the only one ready, its phone reachable and the agent idle."""
    _only_browser_agent_ready(cc)
    wait_until(lambda: _agent(cc)["reachable"], 60, "the browser phone reachable")
    wait_until(lambda: _agent(cc)["state"] == "idle", 60, "the browser agent idle")


def _sign_in(cc: Center, browser: Browser) -> Page:
    """The agent workspace of the test's center, signed in, its phone registered."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.goto(f"http://127.0.0.1:{cc.engine.http_port}/console/agent")
    page.fill("#agent-id", AGENT)
    page.click("#sign-in")
    expect(page.locator("#phone-state")).to_have_text("已注册，等待来电", timeout=90_000)
    return page


def _browser_cpu_seconds(browser_pid: int) -> float:
    """CPU seconds (user + system) of Chromium's whole process tree."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    stats: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        stats[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [browser_pid]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, 0.0)
        todo.extend(children.get(pid, []))
    return total


def _process_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of one process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _chromium_pid() -> int:
    """The headless Chromium this module launched (the newest chromium process of ours)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            ours = any(b"--use-file-for-fake-audio-capture" in c for c in cmd)
            child = any(c.startswith(b"--type=") for c in cmd)
            if cmd and cmd[0].endswith(b"chromium") and ours and not child:
                found.append(int(entry))
    assert found, "the test's Chromium process was not found"
    return max(found)


def _renderers(browser_pid: int) -> list[int]:
    """The renderer processes (tabs) of this module's Chromium."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if b"--type=renderer" in cmd and ppid in (browser_pid, *_children(browser_pid)):
            found.append(int(entry))
    return found


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


@on_both_kinds
def test_browser_agent_takes_a_call_each_side_hears_the_other_and_hangs_up(
    cc: Center, browser: Browser
) -> None:
    page = _sign_in(cc, browser)
    try:
        _only_browser_agent_waiting(cc)
        caller = cc.caller("13800000195")
        caller.call("13800000195", "12345")
        # it rings, visibly (and audibly: the page's ringer runs while it does)
        expect(page.locator("#phone-ring")).to_be_visible(timeout=90_000)
        expect(page.locator("#phone-state")).to_have_text("来电振铃")
        expect(page.locator("#phone-answer")).to_be_enabled()
        chromium, pbx_pid = _chromium_pid(), cc.pbx_pid()
        cpu_before, wall_before = _browser_cpu_seconds(chromium), time.monotonic()
        pbx_before = _process_cpu_seconds(pbx_pid)
        page.click("#phone-answer")
        expect(page.locator("#phone-state")).to_have_text("通话中", timeout=60_000)
        wait_until(lambda: _agent(cc)["state"] == "on_call", 60, "the engine to see the call")
        # the agent hears the caller's 440 Hz (a WebAudio analyser on the remote stream)
        wait_until(
            lambda: abs(page.evaluate("window.ccPhone.heardFrequency()") - 440) < 15,
            60,
            "the page to hear the caller's 440 Hz",
        )
        # the media runs over loopback on both ends: the media server offers 127.0.0.1 only
        # and ICE selected a loopback pair (getStats; Chromium may report the pair carrying the
        # audio as in-progress for a moment before it reports it succeeded)
        media = wait_until(
            lambda: (
                (m := page.evaluate("window.ccPhone.media()"))["pair"]
                and m["pair"]["state"] == "succeeded"
                and m
            ),
            30,
            "ICE to report the selected candidate pair succeeded",
        )
        print(f"browser call media: {media}")
        for side in ("remoteCandidates", "localCandidates"):  # what each end offered
            assert media[side], media
            assert all(a.startswith("127.") or a == "::1" for a in media[side]), media
        pair = media["pair"]
        assert pair and pair["state"] == "succeeded", media
        assert pair["local"].startswith("127.") and pair["remote"].startswith("127."), media
        # the codec both ways is the first of center.toml [webrtc] codecs (the harness: Opus
        # on Asterisk, the caller's G.711 transcoded; A-law on FreeSWITCH, whose sandbox has no
        # Opus, where the SIP profile's own preference would offer u-law first)
        first = f"audio/{WEBRTC_MIME[cc.config.webrtc.codecs[0]]}"
        media = wait_until(
            lambda: (
                (m := page.evaluate("window.ccPhone.media()"))["codec"].lower() == first
                and m["sendCodec"].lower() == first
                and m
            ),
            30,
            f"{first} both ways",
        )
        # hold (a re-INVITE the media server accepts) and back, mute and back, a DTMF key
        page.click("#phone-hold")
        expect(page.locator("#phone-state")).to_have_text("保持中", timeout=30_000)
        expect(page.locator("#phone-hold")).to_have_text("取消保持")
        page.click("#phone-hold")
        expect(page.locator("#phone-state")).to_have_text("通话中", timeout=30_000)
        page.click("#phone-mute")
        expect(page.locator("#phone-mute")).to_have_text("取消静音")
        page.click("#phone-mute")
        expect(page.locator("#phone-mute")).to_have_text("静音")
        # a DTMF key: the caller's phone receives the digit (RFC 4733 through the bridge)
        page.click("#phone-keypad button:text-is('5')")
        expect(page.locator("#notice")).not_to_contain_text("失败")
        got = caller.wait_for(lambda e: e.get("event") == "dtmf_received", 30)
        assert got["digit"] == "5", got
        page.click("#phone-keypad button:text-is('#')")
        got = caller.wait_for(lambda e: e.get("event") == "dtmf_received" and e["digit"] != "5", 30)
        assert got["digit"] == "#", got
        # talk on until the call timer passes twelve seconds: the caller's recording then
        # holds seconds of the agent's 700 Hz after the hold
        expect(page.locator("#phone-timer")).to_have_text(
            re.compile(r"^00:(1[2-9]|[2-5][0-9])$"), timeout=60_000
        )
        assert page.locator("#call").is_visible()  # the workspace shows the call in hand
        cpu = _browser_cpu_seconds(chromium) - cpu_before
        wall = time.monotonic() - wall_before
        pbx = _process_cpu_seconds(pbx_pid) - pbx_before
        print(
            f"CPU during the call ({media['codec']}): browser {100 * cpu / wall:.1f} %, "
            f"{cc.kind} {100 * pbx / wall:.1f} % of a core ({wall:.1f} s)"
        )
        page.click("#phone-hangup")
        heard = caller.wait_for(lambda e: e.get("event") == "disconnected", 60)
        expect(page.locator("#phone-state")).to_have_text("已注册，等待来电", timeout=30_000)
        wait_until(lambda: _agent(cc)["state"] in ("wrap_up", "idle"), 60, "the call to end")
        freq, level = dominant_frequency(closed_wav(heard["recording"], 60))
        assert abs(freq - 700) < 15 and level > 200, (freq, level)
    finally:
        page.context.close()
        cc.engine.post(f"/api/agents/{AGENT}/logout")


@on_both_kinds
@pytest.mark.parametrize("how", ["closed", "crashed"])
def test_browser_agent_that_closed_its_tab_is_not_offered_calls(
    cc: Center, browser: Browser, how: str
) -> None:
    """A closed tab unregisters as it goes (pagehide); a crashed one cannot: its WebSocket
    closes with it, and the PBX drops the contact (Asterisk: qualify over the dead socket
    fails; FreeSWITCH: a registration over a WebSocket ends with its socket). Either way the
    agent is unreachable."""
    page = _sign_in(cc, browser)
    _only_browser_agent_ready(cc)
    try:
        wait_until(lambda: _agent(cc)["reachable"], 60, "the browser phone reachable")
        if how == "crashed":  # the renderer dies: no pagehide, no REGISTER with expires 0
            tabs = _renderers(_chromium_pid())  # this test's own browser's tabs
            assert tabs, "no renderer process of the test's Chromium found"
            for pid in tabs:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(Exception):  # a crashed tab's context may not close cleanly
            page.context.close()
        wait_until(lambda: not _agent(cc)["reachable"], 90, "the closed tab's phone to go")
        cc.engine.post("/api/agents/1002/resume")  # general 4: below the browser agent's 5
        last = cc.rows("SELECT COALESCE(MAX(id), 0) AS n FROM queue_events")[0].n
        caller = cc.caller("13800000196")
        caller.call("13800000196", "12345")
        connect = wait_until(
            lambda: cc.rows(
                "SELECT call_id, agent_id FROM queue_events WHERE id > :n AND event = 'CONNECT'",
                n=last,
            ),
            90,
            "the call connected to an agent",
        )[0]
        assert connect.agent_id == "1002"
        offered = cc.rows(
            "SELECT * FROM queue_events WHERE call_id = :c AND agent_id = :a",
            c=connect.call_id,
            a=AGENT,
        )
        assert not offered, offered
        caller.hangup("13800000196")
    finally:
        cc.engine.post(f"/api/agents/{AGENT}/logout")


@on_both_kinds
def test_browser_agent_sends_the_caller_to_110_with_one_key(
    cc: Center, browser: Browser, tmp_path: Path
) -> None:
    """The workspace's 110 key during a browser-phone call: the caller is blind-transferred
    to the emergency line, the agent's browser phone drops off, the caller and the 110
    operator hear each other."""
    operator = cc.emergency_operator("110", str(write_tone(tmp_path / "op550.wav", OPERATOR_HZ)))
    page = _sign_in(cc, browser)
    try:
        _only_browser_agent_waiting(cc)
        caller = cc.caller("13800000197")
        caller.call("13800000197", "12345")
        expect(page.locator("#phone-answer")).to_be_enabled(timeout=90_000)
        page.click("#phone-answer")
        expect(page.locator("#phone-state")).to_have_text("通话中", timeout=60_000)
        wait_until(
            lambda: abs(page.evaluate("window.ccPhone.heardFrequency()") - 440) < 15,
            60,
            "the page to hear the caller's 440 Hz",
        )
        expect(page.locator("#call")).to_be_visible(timeout=30_000)
        page.click('button.emergency[data-line="110"]')  # blind: the agent drops off
        expect(page.locator("#notice")).to_contain_text("正在转接 110")
        operator.wait_for(lambda e: e.get("event") == "confirmed", 60)
        expect(page.locator("#phone-state")).to_have_text("已注册，等待来电", timeout=30_000)
        # the caller and the operator talk: wait for four seconds of the operator's RTP
        wait_until(lambda: cc.emergency_rtp_received() > 200, 60, "the 110 line's audio")
        caller.hangup("13800000197")
        heard = operator.wait_for(lambda e: e.get("event") == "disconnected", 60)
        mine = caller.wait_for(lambda e: e.get("event") == "disconnected", 60)
        # the operator heard the caller (not the agent's 700 Hz), the caller the operator
        caller_level, agent_level = tone_levels(
            closed_wav(str(heard["recording"]), 60), (CALLER_HZ, AGENT_HZ), 0.5, 0
        )
        assert caller_level > 0.5 and agent_level < 0.2, (caller_level, agent_level)
        assert tone_levels(closed_wav(str(mine["recording"]), 60), (OPERATOR_HZ,), -2.0, 0)[0] > 0.5
    finally:
        page.context.close()
        operator.close()
        cc.engine.post(f"/api/agents/{AGENT}/logout")
