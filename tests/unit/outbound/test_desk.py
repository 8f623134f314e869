"""The callback desk alone: what happened in, commands out (no runtime, no PBX, no bus)."""

from __future__ import annotations

from acd import commands as cmd
from acd import events as ev
from acd.engine import CallerView
from callcenter import domain
from callcenter.outbound.callbacks import CallbackDesk, Forget, Publish, RingAgent, ToAcd
from callcenter.outbound.policy import RetryPolicy
from callcenter.outbound.settings import CallbackSettings, OutboundSettings
from callcenter.pbx import base as pbx

NUMBER = "13812345678"
SETTINGS = OutboundSettings(callback=CallbackSettings(retry=RetryPolicy(2, (60.0,))))
WAITING = CallerView("c1", "labor", ("labor",), 3, 100.0, "waiting", 2, ())


def desk() -> CallbackDesk:
    return CallbackDesk(SETTINGS, lambda call_id: WAITING if call_id == "c1" else None)


def attempt(d: CallbackDesk, now: float) -> list[object]:
    """The ACD offers the callback, the agent answers, the citizen does not."""
    out: list[object] = []
    out += d.offer(cmd.Offer("c1", ("1002",), 15.0, callback=True), now)
    out += d.notice(cmd.CallConnected("c1", "1002", 0.0), now) or []
    out += d.dialed(pbx.CallbackDialed("a", "c1", "no_answer"), now)
    out += d.dialed(pbx.CallbackDialed("a", "c1", "ended"), now)
    return out


def test_accepted_callback_keeps_the_place_and_says_so() -> None:
    d = desk()
    assert d.accepted(pbx.CallbackRequested("a", "c1", NUMBER), "labor", 130.0) == [
        ToAcd(ev.CallbackAccepted("c1")),
        Publish(domain.CallbackRequested("c1", "a", NUMBER, "labor", 3, 100.0, 130.0)),
        Publish(domain.CallerLeft("c1", "callback", 30.0, 2, 130.0)),
    ]
    assert "c1" in d
    # asked again, or by a caller the ACD does not know: nothing to do
    assert d.accepted(pbx.CallbackRequested("a", "c1", NUMBER), "labor", 131.0) == []
    assert d.accepted(pbx.CallbackRequested("a", "c9", NUMBER), "labor", 131.0) == []


def test_unanswered_attempts_are_retried_then_closed_unreached() -> None:
    d = desk()
    d.accepted(pbx.CallbackRequested("a", "c1", NUMBER), "labor", 130.0)
    first = attempt(d, 200.0)
    ring = RingAgent("a", pbx.OutboundCall("c1", 1, NUMBER, 30.0, "12345", "labor"), "1002", 15.0)
    assert first == [
        ring,
        Publish(domain.OfferMade("c1", ("1002",), 200.0)),
        Publish(domain.CallbackAttempt("c1", 1, "1002", "agent", 200.0)),
        Publish(domain.CallbackAttempt("c1", 1, "1002", "no_answer", 200.0)),
        cmd.SetTimer(("cb-retry", "c1", 1), 260.0),
        Publish(domain.CallbackScheduled("c1", 1, 260.0, 200.0)),
    ]
    # the retry timer puts it back in its place (its first arrival time)
    assert d.on_timer(("cb-retry", "c1", 1), 260.0) == [
        ToAcd(ev.CallerArrived("c1", "labor", 3, 100.0, callback=True))
    ]
    last = attempt(d, 270.0)
    assert last[-3:] == [
        Publish(domain.CallbackClosed("c1", "unreached", 2, 270.0)),
        Publish(domain.CallClosed("c1", "a", 270.0)),
        Forget("c1"),
    ]
    assert "c1" not in d
