"""Blocking storage work that must not be lost: run it in a thread until it succeeds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


async def until_done(work: Callable[[], T], what: str, first: float, cap: float) -> T:
    """Run `work` off the event loop; on failure log it and try again, doubling the pause
    from `first` up to `cap` seconds. Nothing is dropped: it returns only on success."""
    delay = first
    while True:
        try:
            return await asyncio.to_thread(work)
        except Exception:
            log.exception("%s failed; retrying in %.1f s", what, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, cap)
