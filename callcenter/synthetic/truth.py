"""Ground truth of a synthetic year, beside the database it was loaded into:

- `defects.jsonl`: one line per injected defect `{"tbl", "record_id", "rule", "field"}`;
- `persons.csv`: `ticket_id,kind,key`, the true party behind every ticket (person P…, or
  enterprise E…), for the precision and recall of fusion;
- `events.jsonl`: injected surges and clusters with their exact onset and end (epoch seconds
  and local ISO time), district, topic and the ids of their extra tickets;
- `manifest.json`: seed, scale, row counts per table, defect counts per rule, seconds taken.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import IO, Any

from callcenter.synthetic.year import Batch

DEFECTS = "defects.jsonl"
PERSONS = "persons.csv"
EVENTS = "events.jsonl"
MANIFEST = "manifest.json"


class TruthWriter:
    """Streams defects and parties as batches are loaded; events and manifest at the end."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._defects: IO[str] = open(directory / DEFECTS, "w", encoding="utf-8")  # noqa: SIM115
        self._persons: IO[str] = open(directory / PERSONS, "w", encoding="utf-8", newline="")  # noqa: SIM115
        self._csv = csv.writer(self._persons)
        self._csv.writerow(("ticket_id", "kind", "key"))

    def add(self, batch: Batch) -> None:
        for d in batch.defects:
            self._defects.write(json.dumps(d, ensure_ascii=False) + "\n")
        self._csv.writerows(batch.parties)

    def finish(self, events: list[dict[str, object]], manifest: dict[str, object]) -> None:
        self._defects.close()
        self._persons.close()
        with open(self.directory / EVENTS, "w", encoding="utf-8") as f:
            for e in events:
                f.write(json.dumps(e, ensure_ascii=False) + "\n")
        (self.directory / MANIFEST).write_text(
            json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )

    def abort(self) -> None:
        self._defects.close()
        self._persons.close()


def read_defects(directory: Path) -> list[dict[str, str]]:
    lines = (directory / DEFECTS).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def read_persons(directory: Path) -> dict[int, tuple[str, str]]:
    """ticket id -> (kind, key)."""
    with open(directory / PERSONS, encoding="utf-8", newline="") as f:
        return {int(r["ticket_id"]): (r["kind"], r["key"]) for r in csv.DictReader(f)}


def read_events(directory: Path) -> list[dict[str, Any]]:
    lines = (directory / EVENTS).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def read_manifest(directory: Path) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    return found
