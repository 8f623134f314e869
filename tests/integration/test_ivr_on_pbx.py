"""The IVR on the real sandbox: the market hotline 12315's menu (config/ivr.toml, compiled into
the dialplan) driven by RFC 4733 DTMF from a SIP caller, with Mandarin prompts synthesized
from the config text, on both PBX kinds. The path lands on the call's ticket."""

from __future__ import annotations

import time

import pytest

from callcenter.simulation import Softphone
from tests.integration.conftest import center_of_kind, on_both_kinds
from tests.integration.harness import Center, wait_until

pytestmark = pytest.mark.pbx

cc = pytest.fixture(center_of_kind, name="cc")  # the center of the test's kind


def _answered(cc: Center, number: str) -> tuple[Softphone, set[str]]:
    before = {r[0] for r in cc.rows("SELECT call_id FROM calls")}
    caller = cc.caller(number)
    caller.call(number, "12315")
    caller.wait_for(lambda e: e.get("event") == "confirmed", 20)
    return caller, before


def _at_menu(cc: Center, number: str, tries: int = 0) -> None:
    """Wait until the caller's channel is in a menu taking keys (Background or WaitExten) after
    `tries` wrong or missing answers: a key sent before then is lost, and a fixed sleep is
    too short on a loaded machine."""

    wait_until(
        lambda: cc.at_menu(number, tries),
        60,
        f"the menu to take keys (after {tries} wrong answers)",
    )


def _joined(cc: Center, before: set[str]) -> tuple[str, str]:
    def fresh() -> tuple[str, str] | None:
        rows = cc.rows("SELECT call_id, skill FROM calls WHERE did = '12315'")
        new = [(r[0], r[1]) for r in rows if r[0] not in before]
        return new[0] if new else None

    found: tuple[str, str] = wait_until(fresh, 40, "the caller to join the queue")
    return found


def _agent(cc: Center, call_id: str) -> str:
    def taken() -> str | None:
        row = cc.call_row(call_id)
        return row.agent_id if row is not None and row.connected_at else None

    agent: str = wait_until(taken, 30, "an agent to take the call")
    return agent


def _ticket_path(cc: Center, call_id: str) -> str:
    rows = wait_until(
        lambda: cc.rows("SELECT ivr_path FROM tickets WHERE call_id = :c", c=call_id),
        30,
        "the call's ticket",
    )
    path: str = rows[0][0]
    return path


@on_both_kinds
def test_dtmf_choice_routes_to_the_market_queue_and_the_path_reaches_the_ticket(
    cc: Center,
) -> None:
    caller, before = _answered(cc, "13800000041")
    _at_menu(cc, "13800000041")  # the menu prompt is playing
    caller.dtmf("13800000041", "2")  # 政策咨询
    call_id, skill = _joined(cc, before)
    assert skill == "market"
    agent = _agent(cc, call_id)
    assert agent == "1003"  # the market specialist (proficiency 5)
    time.sleep(1)
    caller.hangup("13800000041")
    assert _ticket_path(cc, call_id) == "12315/consult"


@on_both_kinds
def test_invalid_key_replays_the_menu_then_a_valid_one_routes(cc: Center) -> None:
    caller, before = _answered(cc, "13800000042")
    _at_menu(cc, "13800000042")
    caller.dtmf("13800000042", "7")  # not an option: "您的输入有误" and the menu again
    _at_menu(cc, "13800000042", tries=1)
    caller.dtmf("13800000042", "1")  # 投诉举报: priority +1
    call_id, skill = _joined(cc, before)
    assert skill == "market"
    _agent(cc, call_id)
    caller.hangup("13800000042")
    assert _ticket_path(cc, call_id) == "12315/complaint"


@on_both_kinds
def test_no_input_until_retries_run_out_says_goodbye_and_hangs_up(cc: Center) -> None:
    caller, before = _answered(cc, "13800000043")
    gone = caller.wait_for(lambda e: e.get("event") == "disconnected", 120)
    assert gone["seconds"] > 3 * 5  # three attempts, each with a 5 s timeout
    assert not [
        r for r in cc.rows("SELECT call_id FROM calls WHERE did = '12315'") if r[0] not in before
    ]  # never joined the queue
