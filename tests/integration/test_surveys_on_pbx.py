"""回访 survey calls on both PBX kinds: the center calls the citizen after a ticket closes,
the citizen rates by DTMF; an unreachable citizen is retried, then handed to a person."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.integration.conftest import center_of_kind, on_both_kinds
from tests.integration.harness import Center, closed_wav, prompt_heard, wait_until
from tests.integration.test_callbacks_on_pbx import _disconnected, _incoming

pytestmark = pytest.mark.pbx

cc = pytest.fixture(center_of_kind, name="cc")  # the center of the test's kind


def _closed_ticket(cc: Center, number: str) -> int:
    made = cc.engine.post(
        "/api/tickets",
        {"content": "小区路灯不亮已经一周", "caller_number": number, "request_type": "求助"},
    )
    tid = int(made["id"])
    for body in (
        {"action": "dispatch", "department": "power"},
        {"action": "accept_handling"},
        {"action": "reply", "text": "已更换灯具"},
        {"action": "approve"},
        {"action": "close"},
    ):
        out = cc.engine.post(f"/api/tickets/{tid}/transition", body)
        assert "error_id" not in out, (body, out)
    return tid


@pytest.mark.parametrize(
    ("digit", "rating", "status"),
    [("2", "基本满意", "evaluated"), ("3", "不满意", "handling")],  # 不满意 reopens (tickets.toml)
)
@on_both_kinds
def test_44190_6_2_3_survey_call_rated_by_dtmf_lands_on_the_ticket(
    cc: Center, digit: str, rating: str, status: str
) -> None:
    number = f"1380000006{digit}"
    phone = cc.citizens(number)
    tid = _closed_ticket(cc, number)
    phone.wait_for(lambda e: e.get("event") == "confirmed" and e.get("user") == number, 30)
    time.sleep(1.5)  # the question is playing; a key interrupts it
    phone.dtmf(number, digit)
    heard = closed_wav(_disconnected(phone, number)["recording"])
    assert prompt_heard(heard, cc.prompts / "survey_thanks.wav") > 0.9

    def rated() -> dict[str, Any] | None:
        # the survey, the ticket's status and its history are one transaction, but on SQLite
        # the detail view's reads are separate statements: wait until all of it shows
        t: dict[str, Any] = cc.engine.get(f"/api/tickets/{tid}")
        done = t.get("survey", {}).get("state") == "rated" and t.get("status") == status
        return t if done else None

    ticket = wait_until(rated, 30, f"the survey's rating and the ticket {status}")
    assert ticket["status"] == status
    assert ticket["survey"]["rating"] == rating
    assert [c["outcome"] for c in ticket["survey"]["calls"]] == [f"rated:{digit}"]
    steps = [(h["action"], h["actor"]) for h in ticket["history"]][-2:]
    assert steps == [("revisit", "survey"), ("evaluate", "survey")]


@on_both_kinds
def test_unreachable_survey_is_retried_then_handed_to_a_person(cc: Center) -> None:
    number = "13800000069"
    phone = cc.citizens(number)
    phone.answer_mode(number, "ignore")
    tid = _closed_ticket(cc, number)

    def manual() -> dict[str, Any] | None:
        t: dict[str, Any] = cc.engine.get(f"/api/tickets/{tid}")
        handed = t.get("survey", {}).get("state") == "manual"
        noted = any("转人工回访" in c["text"] for c in t.get("comments", []))
        return t if handed and noted else None  # as above: one write, separate reads

    ticket = wait_until(manual, 60, "the survey handed to a person, with its comment")
    assert [c["outcome"] for c in ticket["survey"]["calls"]] == ["no_answer", "no_answer"]
    assert ticket["status"] == "closed"
    assert any("转人工回访" in c["text"] for c in ticket["comments"])
    assert _incoming(phone) == [number, number]
