"""Record the AMI text the protocol tests replay (tests/protocol/recorded/), from the sandbox.

The integration harness's center (sandbox Asterisk, the engine as its own process, the agents'
softphones) takes real calls while a second AMI session of the engine's own manager user (the
same event filter, so the same events) writes everything Asterisk sends it to the file.

    python tools/record_ami.py calls    # ami-call-flows.txt
    python tools/record_ami.py phones   # ami-agent-phones.txt

calls: a caller to 12345 rung at one general agent whose phone rings on; the engine cancels
the ring (the agent pauses), rings the next one, and the caller hangs up while it rings; then
a caller to 12333 answered by the labor specialist, a Status snapshot while they talk (the
variables the driver asks for), and the agent hangs up.
phones: PJSIPShowContacts with every agent registered; a caller to 12345 refused by 1001
(488), by 1002 (603), answered by 1004; 1001's and 1002's softphone process killed (SIGKILL)
until qualify finds both unreachable; PJSIPShowContacts again; then an offer to 1001 (the
driver's own Originate, sent from this session) that Asterisk cannot dial at all.
Uses CALLCENTER_IT_SLOT like the sandbox tests.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from panoramisk import Manager  # noqa: E402

from callcenter.pbx.asterisk.driver import (  # noqa: E402
    SNAPSHOT_VARIABLES,
    leg_of_uniqueid,
    leg_uniqueid,
)
from tests.integration.harness import (  # noqa: E402
    AMI_PORT,
    Center,
    center,
    connected,
    joined_call_id,
    known_calls,
    wait_until,
)

RECORDED = Path(__file__).resolve().parent.parent / "tests" / "protocol" / "recorded"


class Recorder:
    """A second AMI session, its whole input kept, on a loop of its own thread."""

    def __init__(self, secret: str) -> None:
        self.stream = io.BytesIO()
        self.loop = asyncio.new_event_loop()
        self.events: list[Any] = []
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.manager = self.call(self._connect(secret))

    async def _connect(self, secret: str) -> Manager:
        manager = Manager(
            host="127.0.0.1",
            port=AMI_PORT,
            username="callcenter",
            secret=secret,
            ping_delay=3600,
            save_stream=self.stream,
        )
        manager.register_event("*", lambda _, m: self.events.append(m))
        await manager.connect()
        return manager

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def action(self, action: dict[str, Any], **kwargs: Any) -> Any:
        async def send() -> Any:
            return await self.manager.send_action(action, **kwargs)

        return self.call(send())

    def seen(self, predicate: Callable[[Any], bool], timeout: float, what: str) -> Any:
        return wait_until(
            lambda: next((m for m in self.events if predicate(m)), None), timeout, what
        )

    def close(self) -> bytes:
        self.loop.call_soon_threadsafe(self.manager.close)
        time.sleep(0.5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        return self.stream.getvalue()


def incoming(agent: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e.get("event") == "incoming" and e.get("user") == agent


def unreachable(agent: str) -> Callable[[Any], bool]:
    return lambda m: (
        m.get("Event") == "ContactStatus"
        and m.get("AOR") == agent
        and m.get("ContactStatus") == "Unreachable"
    )


def ringing(cc: Center, agents: list[str]) -> str:
    """The first of `agents` whose phone rang (an incoming call)."""

    def rung() -> str | None:
        for agent in agents:
            if cc.phones[agent].seen(incoming(agent)):
                return agent
        return None

    found: str = wait_until(rung, 20, "an agent's phone ringing")
    return found


def record_calls(cc: Center, rec: Recorder) -> None:
    general = ["1001", "1002", "1004", "1003"]
    for agent in general:
        cc.phones[agent].answer_mode(agent, "ignore")
    before = known_calls(cc)
    first = cc.caller("13800000001")
    first.call("13800000001", "12345")
    call_id = joined_call_id(cc, "12345", before)
    rung = ringing(cc, general)
    cc.engine.post(f"/api/agents/{rung}/pause", {"reason": "meeting"})
    # the engine cancels that ring and rings the next agent: the caller hangs up meanwhile
    rec.seen(
        lambda m: (
            m.get("Event") == "DialBegin"
            and (leg_of_uniqueid(m.get("DestUniqueid", "")) or ("", ""))[0] == call_id
            and leg_of_uniqueid(m.get("DestUniqueid", "")) != (call_id, rung)
        ),
        20,
        "the next agent rung",
    )
    first.hangup("13800000001")
    rec.seen(
        lambda m: m.get("Event") == "Hangup" and m.get("Uniqueid") == call_id, 20, "caller gone"
    )
    time.sleep(1)
    cc.engine.post(f"/api/agents/{rung}/resume")
    for agent in general:
        cc.phones[agent].answer_mode(agent, "answer")
    time.sleep(1)
    before = known_calls(cc)
    second = cc.caller("13900000002")
    second.call("13900000002", "12333")
    call_id = joined_call_id(cc, "12333", before)
    agent = connected(cc, call_id)
    rec.action(
        {"Action": "Status", "Variables": ",".join(SNAPSHOT_VARIABLES), "AllVariables": "false"}
    )
    time.sleep(1)
    cc.phones[agent].hangup(agent)
    rec.seen(lambda m: m.get("Event") == "Hangup" and m.get("Uniqueid") == call_id, 20, "call over")
    time.sleep(1)
    cc.release_callers()


def record_phones(cc: Center, rec: Recorder) -> None:
    rec.action({"Action": "PJSIPShowContacts"})
    cc.phones["1001"].answer_mode("1001", "reject", code=488)
    cc.phones["1002"].answer_mode("1002", "reject", code=603)
    before = known_calls(cc)
    caller = cc.caller("13800000003")
    caller.call("13800000003", "12345")
    call_id = joined_call_id(cc, "12345", before)
    agent = connected(cc, call_id)
    print(f"answered by {agent}")
    time.sleep(1)
    cc.phones[agent].hangup(agent)
    rec.seen(lambda m: m.get("Event") == "Hangup" and m.get("Uniqueid") == call_id, 20, "call over")
    # 1001 and 1002 share a softphone process: killed, qualify finds both unreachable
    cc.phones["1001"].proc.send_signal(signal.SIGKILL)
    for agent in ("1001", "1002"):
        rec.seen(unreachable(agent), 90, f"{agent} unreachable")
    rec.action({"Action": "PJSIPShowContacts"})
    # an offer to 1001 now, as the driver sends it: Asterisk has no contact to dial
    before = known_calls(cc)
    caller.call("13800000003", "12345")
    call_id = joined_call_id(cc, "12345", before)
    uid = leg_uniqueid(call_id, "1001", 1)
    rec.action(
        {
            "Action": "Originate",
            "ActionID": uid,
            "Channel": "PJSIP/1001",
            "Context": "cc-agent-up",
            "Exten": "s",
            "Priority": "1",
            "Async": "true",
            "ChannelId": uid,
            "Timeout": "20000",
            "CallerID": '"13800000003" <13800000003>',
            "PreDialGoSub": "cc-predial,s,1",
            "Variable": [f"CC_CALL_ID={call_id}", "CC_AGENT_DIAL=PJSIP/1001"],
        },
        as_list=False,
    )
    rec.seen(
        lambda m: m.get("Event") == "OriginateResponse" and m.get("ActionID") == uid,
        20,
        "the originate's outcome",
    )
    connected(cc, call_id)
    time.sleep(0.5)
    cc.release_callers()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("flows", choices=["calls", "phones"])
    args = parser.parse_args(argv)
    out = RECORDED / ("ami-call-flows.txt" if args.flows == "calls" else "ami-agent-phones.txt")
    with tempfile.TemporaryDirectory() as tmp, center(Path(tmp)) as cc:
        cc.engine.start()
        rec = Recorder(cc.instance.secrets()["ami"])
        try:
            (record_calls if args.flows == "calls" else record_phones)(cc, rec)
        finally:
            text = rec.close()
    out.write_bytes(text)
    print(f"{out}: {len(text)} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
