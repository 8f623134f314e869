"""漏接回拨: which callers who left the queue were missed (pure rule of [missed])."""

from __future__ import annotations

import pytest

from callcenter.outbound.settings import MissedSettings

RULES = MissedSettings(min_wait=10.0)


@pytest.mark.parametrize(
    ("reason", "waited", "missed"),
    [
        ("abandoned", 2.0, False),  # a misdial, not a missed call
        ("abandoned", 9.99, False),
        ("abandoned", 10.0, True),
        ("abandoned", 45.0, True),
        ("timeout", 1.0, True),  # sent away by the center: missed whatever the wait
        ("overflow", 0.0, True),
        ("no_agents", 0.0, True),
        ("fallback", 30.0, False),  # the dialplan's own queue took the caller
        ("answered", 30.0, False),
        ("callback", 30.0, False),  # a queued callback already calls it
    ],
)
def test_missed_caller_waited_past_min_wait_or_was_sent_away(
    reason: str, waited: float, missed: bool
) -> None:
    assert RULES.qualifies(reason, waited) is missed


def test_missed_reasons_and_enabled_are_configuration() -> None:
    only_abandoned = MissedSettings(min_wait=0.0, reasons=("abandoned",))
    assert only_abandoned.qualifies("abandoned", 0.0)
    assert not only_abandoned.qualifies("timeout", 100.0)
    assert not MissedSettings(enabled=False).qualifies("timeout", 100.0)
