"""Per-call timestamps along the join -> ring path, for `tools/bench_e2e.py --trace`.

Off unless the logger `callcenter.trace` is at DEBUG (`callcenter --trace serve`); off, a mark
costs one cached level check. On, each mark is one line `STAGE CALL_ID EPOCH_SECONDS`, which
the benchmark pairs with Asterisk's own event timestamps to say where a caller's milliseconds
went. Stages, in order:

  read      the driver parsed the caller's join event
  owner     the owner task took the join from its inbox
  decided   the routing core's offer was handed to the node's sender
  sending   the driver was asked to send the offer (or kept it for the hold, "held")
  written   the offer's actions were written to the PBX link
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger("callcenter.trace")


def enable() -> None:
    log.setLevel(logging.DEBUG)


def mark(stage: str, call_id: str) -> None:
    if log.isEnabledFor(logging.DEBUG):
        log.debug("%s %s %.6f", stage, call_id, time.time())


def parse(line: str) -> tuple[str, str, float] | None:
    """(stage, call id, time) from one log line a mark wrote, else None."""
    _, found, rest = line.partition("callcenter.trace: ")
    if not found:
        return None
    parts = rest.split()
    if len(parts) != 3:
        return None
    try:
        return parts[0], parts[1], float(parts[2])
    except ValueError:
        return None
