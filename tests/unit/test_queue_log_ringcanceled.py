"""A ring the engine stopped (agent paused or logged out, caller gone) is app_queue's
RINGCANCELED line with the ring time in milliseconds."""

from __future__ import annotations

from callcenter import domain
from callcenter.queue_log import queue_log_lines


def test_offer_cancelled_is_ringcanceled_with_ring_ms() -> None:
    e = domain.OfferCancelled("c1", "1001", "paused", 2.345, 1_700_000_000.5)
    # the member is named as the rendered queues.conf names it (here: no members given, its id)
    assert queue_log_lines(e) == ["1700000000|c1|12345|1001|RINGCANCELED|2345"]
