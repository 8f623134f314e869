"""Indexes every recording once its call is over and the PBX has closed the files.

It follows the domain events: `RecordingStarted` says where the PBX records a call,
`CallConnected` who took it, `CallClosed` that the caller's channel is gone. Then it waits
(off the event loop) until each WAV's header is final, and writes the recording, its legs
(mixed, caller, agent) and, when a speech model is configured, a pending transcription job
in one transaction. `sweep()` indexes files found on disk that no event announced (engine
down during the call, fallback route).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from callcenter import domain
from callcenter.bus import Subscription
from callcenter.recordings import store
from callcenter.recordings.wavfile import inspect
from callcenter.retry import until_done
from callcenter.storage.database import Database

log = logging.getLogger(__name__)

_DATED = re.compile(r"^\d{4}/\d{2}/\d{2}/[^/]+$")


@dataclass
class _Pending:
    node: str
    path: str
    started_at: float
    agent_id: str | None = None
    did: str | None = None


@dataclass
class RecordingIndexer:
    database: Database
    root: Path
    subscription: Subscription
    on_indexed: Callable[[str], None] = lambda call_id: None
    # False when no speech model is configured: no transcription job is queued for nobody
    transcribe: bool = True
    settle_timeout: float = 30.0
    indexed: int = 0
    _pending: dict[str, _Pending] = field(default_factory=dict)
    _dids: dict[str, str] = field(default_factory=dict)
    _agents: dict[str, str] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self) -> None:
        async for e in self.subscription:
            if isinstance(e, domain.CallerJoined):
                self._dids[e.call_id] = e.did
            elif isinstance(e, domain.CallConnected):
                self._agents[e.call_id] = e.agent_id
            elif isinstance(e, domain.RecordingStarted):
                self._pending.setdefault(e.call_id, _Pending(e.node, e.path, e.at))
            elif isinstance(e, domain.CallClosed):
                self._dids_agents_done(e.call_id)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _dids_agents_done(self, call_id: str) -> None:
        pending = self._pending.pop(call_id, None)
        did = self._dids.pop(call_id, None)
        agent = self._agents.pop(call_id, None)
        if pending is None:
            return
        pending.did, pending.agent_id = did, agent
        task = asyncio.get_running_loop().create_task(self._finish(call_id, pending))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _finish(self, call_id: str, p: _Pending) -> None:
        what = f"indexing the recording of {call_id}"
        done = await until_done(partial(self._index_one, call_id, p), what, first=0.5, cap=30.0)
        if done:
            self.indexed += 1
            self.on_indexed(call_id)

    def _index_one(self, call_id: str, p: _Pending) -> bool:
        legs = self._settled_legs(p.path)
        if not legs:
            log.warning("call %s: no recording files under %s", call_id, self.root / p.path)
            return False
        finished = store.Finished(call_id, p.node, p.path, p.started_at, p.agent_id, p.did, legs)
        return self.database.transaction(
            lambda s: store.index(s, finished, time.time(), self.transcribe)
        )

    def _describe(self, path: str) -> tuple[tuple[store.LegFacts, ...], bool]:
        """The legs on disk, and whether every header is final."""
        facts: list[store.LegFacts] = []
        complete = True
        for leg in store.LEGS:
            name = store.leg_file(path, leg)
            file = self.root / name
            if file.exists():
                wav = inspect(file)
                facts.append(store.LegFacts(leg, name, wav.size, wav.sha256, wav.duration))
                complete = complete and wav.complete
        return tuple(facts), bool(facts) and complete

    def _settled_legs(self, path: str) -> tuple[store.LegFacts, ...]:
        """Wait until every leg's header is final (or the timeout), then describe them."""
        deadline = time.monotonic() + self.settle_timeout
        while True:
            legs, complete = self._describe(path)
            if complete:
                return legs
            if time.monotonic() > deadline:
                if legs:
                    log.warning("recording %s: header not final after the timeout", path)
                return legs
            time.sleep(0.2)

    def sweep(self, node: str = "") -> int:
        """Index recordings on disk that no event announced (blocking; run in a thread). Each
        recording is its own transaction: one the database refuses is logged with its file
        and left on disk for the next sweep, and the others are still indexed (the engine
        runs this at start and must not stop on one bad file)."""
        if not self.root.is_dir():
            return 0
        known = self.database.transaction(store.known_paths)
        count = 0
        for mixed in sorted(self.root.glob("*/*/*/*.wav")):
            rel = mixed.relative_to(self.root).as_posix()[: -len(".wav")]
            if (
                rel.endswith(("-caller", "-agent", "-emergency"))
                or rel in known
                or not _DATED.match(rel)
            ):
                continue
            call_id = rel.rsplit("/", 1)[1]
            legs, complete = self._describe(rel)
            if not complete:
                continue  # still being written: a later sweep or the events will index it
            started = mixed.stat().st_mtime - max(leg.duration for leg in legs)
            finished = store.Finished(call_id, node, rel, started, None, None, legs)
            index = partial(store.index, rec=finished, now=time.time(), transcribe=self.transcribe)
            try:
                indexed = self.database.transaction(index)
            except SQLAlchemyError as exc:
                log.error("recording %s not indexed, left for the next sweep: %s", rel, exc)
                continue
            if indexed:
                count += 1
                self.on_indexed(call_id)
        return count
