"""A queue's max-wait overflow target (queue.toml overflow_target) on the real sandbox, on
both PBX kinds: a named queue's caller with nobody free for its skill leaves after the
queue's own max wait and reaches the target, written as a number of numbers.toml (any kind)
or in the node's own form (Asterisk "context,exten,priority", FreeSWITCH "EXTENSION XML
CONTEXT"); there the 12345 entry's general seat answers."""

from __future__ import annotations

import pytest

from tests.integration.conftest import center_of_kind, on_both_kinds
from tests.integration.harness import (
    Center,
    connected,
    engine_with_queue,
    joined_call_id,
    known_calls,
)
from tests.integration.test_acd_parity_on_asterisk import hang_up

pytestmark = pytest.mark.pbx

cc = pytest.fixture(center_of_kind, name="cc")  # the center of the test's kind

# the 12345 entry in each kind's own form
NATIVE = {"asterisk": "cc-entry,12345,1", "freeswitch": "12345 XML cc-inbound"}


def environment_queue(target: str) -> str:
    """12369's queue: after 5 s with nobody free, on to `target`."""
    return f"""
[[queue.queues]]
name = "environment"
skills = ["environment"]
max_wait = 5
overflow_target = "{target}"
"""


@on_both_kinds
@pytest.mark.parametrize("form", ["number", "native"])
def test_a_named_queues_overflow_target_takes_its_callers_there(cc: Center, form: str) -> None:
    """The environment queue's own max wait and overflow target ([queue]'s are 600 s and the
    timeout route): its caller, with the one environment seat on break, overflows to the
    12345 entry and a general seat answers."""
    target = "12345" if form == "number" else NATIVE[cc.kind]
    with engine_with_queue(cc, {}, environment_queue(target)):
        cc.engine.post("/api/agents/1003/pause", {"reason": "meeting"})  # the environment seat
        before = known_calls(cc)
        number = "13900000065"
        caller = cc.caller(number)
        caller.call(number, "12369")
        call_id = joined_call_id(cc, "12369", before)
        assert connected(cc, call_id) == "1001"  # general 5, by the 12345 entry
        left = cc.rows("SELECT event FROM queue_events WHERE call_id = :c ORDER BY id", c=call_id)
        events = [r[0] for r in left]
        assert "EXITWITHTIMEOUT" in events and events.index("EXITWITHTIMEOUT") < events.index(
            "CONNECT"
        ), events
        hang_up(cc, caller, number, call_id)
