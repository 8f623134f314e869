"""The decision log's files: JSON lines written by a background thread, one file a day.

The routing owner task only calls `put`/`put_all`, which never wait: an event's records go
into a bounded queue, or, when the queue is full (the disk stalls, the writer fell behind),
they are dropped and counted. The writer thread wakes a few times a second, turns records
into lines, opens the day's file (by the center's local date), deletes files older than
`keep_days`, and writes a `dropped` record with the count of the records lost since the last
one, so a story read back knows it has a gap.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import deque
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

Record = dict[str, Any]
WAKE_EVERY = 0.2  # seconds between the writer's rounds
FILE_NAME = re.compile(r"^decisions-(\d{4}-\d{2}-\d{2})\.jsonl$")


def file_name(day: date) -> str:
    return f"decisions-{day.isoformat()}.jsonl"


def log_files(directory: Path) -> list[tuple[date, Path]]:
    """The decision log's files in `directory`, oldest first."""
    if not directory.is_dir():
        return []
    found: list[tuple[date, Path]] = []
    for path in directory.iterdir():
        m = FILE_NAME.match(path.name)
        if m:
            found.append((date.fromisoformat(m.group(1)), path))
    return sorted(found)


def read_records(paths: list[Path]) -> Iterator[Record]:
    """The records of these files in order (a torn or foreign line is skipped)."""
    for path in paths:
        with path.open(encoding="utf-8") as f:
            for line in f:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    yield record


class DecisionLog:
    def __init__(
        self, directory: Path, keep_days: int, capacity: int, zone: ZoneInfo, top: int = 5
    ) -> None:
        self.directory = directory
        self.keep_days = keep_days
        self.zone = zone
        self.top = top
        self.dropped = 0  # records lost to a full queue since start (only `put` adds)
        self.written = 0
        # each item is the records of one event; a deque's append and popleft are atomic, so
        # the owner task takes no lock (the bound is checked by length)
        self.capacity = capacity
        self._queue: deque[list[Record]] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._file: TextIO | None = None
        self._day: date | None = None
        self._reported = 0

    # --- the owner task's side: never waits ------------------------------------------------

    def put(self, record: Record) -> bool:
        """Queue a record for the writer; False (and counted) when the queue is full."""
        return self.put_all([record])

    def put_all(self, records: list[Record]) -> bool:
        """Queue the records of one event together; False (each counted) when full."""
        if len(self._queue) >= self.capacity:
            self.dropped += len(records)
            return False
        self._queue.append(records)
        return True

    def backlog(self) -> int:
        return len(self._queue)

    # --- life ------------------------------------------------------------------------------

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="decision-log", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, then stop the writer (blocks: call it off the event loop)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout)
        if thread.is_alive():
            log.warning("decision log: writer stalled; %d events not written", self.backlog())

    # --- the writer thread -----------------------------------------------------------------

    def _run(self) -> None:
        """Every `WAKE_EVERY` seconds take everything queued and write it: the writer wakes
        a few times a second, not at every record, so it competes little with routing."""
        try:
            self._purge(datetime.now(self.zone).date())
            while True:
                stopping = self._stop.wait(WAKE_EVERY)
                while self._queue:
                    for record in self._queue.popleft():
                        self._write(record)
                self._report_drops()
                if self._file is not None:
                    self._file.flush()
                if stopping:
                    return
        except Exception:
            log.exception("decision log writer failed: no more decisions are written")
        finally:
            if self._file is not None:
                self._file.close()
                self._file = None

    def _write(self, record: Record) -> None:
        at = float(record.get("at", 0.0))
        day = datetime.fromtimestamp(at, self.zone).date()
        if day != self._day:
            self._open(day)
        assert self._file is not None
        self._file.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        self.written += 1

    def _open(self, day: date) -> None:
        if self._file is not None:
            self._file.close()
        self._file = (self.directory / file_name(day)).open("a", encoding="utf-8")
        if self._day is not None and day > self._day:
            self._purge(day)
        self._day = day

    def _purge(self, today: date) -> None:
        """Delete the files older than `keep_days` (today's counts as one)."""
        oldest = today - timedelta(days=self.keep_days - 1)
        for day, path in log_files(self.directory):
            if day < oldest:
                try:
                    path.unlink()
                    log.info("decision log: deleted %s (older than %d days)", path, self.keep_days)
                except OSError as exc:
                    log.warning("decision log: cannot delete %s: %s", path, exc)

    def _report_drops(self) -> None:
        dropped = self.dropped
        if dropped == self._reported:
            return
        lost = dropped - self._reported
        self._reported = dropped
        log.warning(
            "decision log: %d records dropped (queue of %d full; %d dropped since start)",
            lost,
            self.capacity,
            dropped,
        )
        now = datetime.now(self.zone).timestamp()
        self._write({"at": round(now, 3), "kind": "dropped", "count": lost})
