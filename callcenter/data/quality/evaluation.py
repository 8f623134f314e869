"""How well a run found the defects the synthetic-data generator planted: recall and
precision against `<truth>/defects.jsonl` (one `{"tbl", "record_id", "rule", "field"}` line per
planted (record, rule)). A problem is matched by (table, record, rule)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from callcenter.data.quality.report import open_after
from callcenter.storage.database import Database
from callcenter.storage.schema import QualityIssue

Key = tuple[str, str, str]  # table, record id, rule


@dataclass(frozen=True)
class RuleEvaluation:
    planted: int
    found: int
    matched: int

    @property
    def recall(self) -> float:
        return self.matched / self.planted if self.planted else 1.0

    @property
    def precision(self) -> float:
        return self.matched / self.found if self.found else 1.0


def read_truth(path: Path) -> set[Key]:
    truth: set[Key] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            truth.add((str(item["tbl"]), str(item["record_id"]), str(item["rule"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: not a defect line: {exc}") from None
    return truth


def found_by(db: Database, run_id: int) -> set[Key]:
    """(table, record, rule) of every issue open after the run."""
    query = select(QualityIssue.tbl, QualityIssue.record_id, QualityIssue.rule).where(
        open_after(run_id)
    )
    with db.session() as s:
        return {(t, r, u) for t, r, u in s.execute(query)}


def compare(truth: set[Key], found: set[Key]) -> tuple[float, float, dict[str, RuleEvaluation]]:
    rules = sorted({k[2] for k in truth | found})
    per_rule = {
        rule: RuleEvaluation(
            planted=sum(1 for k in truth if k[2] == rule),
            found=sum(1 for k in found if k[2] == rule),
            matched=sum(1 for k in truth & found if k[2] == rule),
        )
        for rule in rules
    }
    matched = len(truth & found)
    recall = matched / len(truth) if truth else 1.0
    precision = matched / len(found) if found else 1.0
    return recall, precision, per_rule


def evaluate(
    db: Database, run_id: int, truth_path: Path
) -> tuple[float, float, dict[str, RuleEvaluation]]:
    """(recall, precision, per rule) of the run against the planted defects."""
    return compare(read_truth(truth_path), found_by(db, run_id))
