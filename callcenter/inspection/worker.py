"""Scoring the backlog: every transcribed call without a score under the current rules.

`score_pending` drains it in batches (one transaction each, so a crash loses at most a batch
and a re-run scores only what is left); `run_inspection` does so in a worker thread
(asyncio.to_thread) whenever woken and at least every `interval` seconds, so the engine's
event loop never waits on it; `main_inspect` is `callcenter inspect`.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from callcenter.inspection.config import InspectionRules, load_inspection
from callcenter.inspection.score import score_call
from callcenter.inspection.store import due_calls, load_facts, save_scores
from callcenter.storage.database import Database
from callcenter.tomlreader import ConfigError

log = logging.getLogger(__name__)
BATCH = 500


def score_batch(
    session: Session, rules: InspectionRules, now: float, limit: int
) -> tuple[int, int]:
    """Score up to `limit` due calls in this transaction: (calls due, scores stored). Fewer
    are stored when another worker stored some of the same calls' scores first."""
    calls = due_calls(session, rules.version, limit)
    if not calls:
        return 0, 0
    scored = [
        (call_id, agent, score_call(rules, facts))
        for call_id, (agent, facts) in load_facts(session, calls).items()
    ]
    ids = save_scores(session, scored, rules.version, now)
    stored = sum(1 for i in ids if i is not None)
    if stored < len(ids):
        log.info("inspection: %d calls were scored by another worker first", len(ids) - stored)
    return len(calls), stored


def score_pending(db: Database, rules: InspectionRules, now: float, batch: int = BATCH) -> int:
    """Score every due call; how many scores this worker stored."""
    done = 0
    while True:
        due, stored = db.transaction(lambda s: score_batch(s, rules, now, batch))
        done += stored
        if due < batch:
            return done


async def run_inspection(
    db: Database,
    rules: InspectionRules,
    stopping: asyncio.Event,
    wake: asyncio.Event,
    interval: float = 60.0,
) -> None:
    """Score the backlog in a worker thread at start, when woken (a transcript is done) and
    every `interval` seconds, until stopping is set. A database error is logged and retried
    on the next round."""
    while not stopping.is_set():
        wake.clear()
        try:
            count = await asyncio.to_thread(score_pending, db, rules, time.time())
            if count:
                log.info("inspection: scored %d calls under rules %s", count, rules.version)
        except SQLAlchemyError:
            log.exception("inspection: scoring failed; retrying in %.0f s", interval)
        waiters = {asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stopping.wait())}
        await asyncio.wait(waiters, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()


def main_inspect(config_dir: Path, db_url: str) -> int:
    """`callcenter inspect`: score every transcribed call not yet scored under the rules of
    config/inspection.toml. 0 when done, 2 when the rules are wrong, 1 when the database
    refused (stderr says why)."""
    try:
        rules = load_inspection(config_dir)
    except ConfigError as exc:
        print(f"质检规则配置有误：\n{exc}", file=sys.stderr)
        return 2
    db = Database(db_url)
    try:
        db.upgrade()
        started = time.monotonic()
        count = score_pending(db, rules, time.time())
    except SQLAlchemyError as exc:
        print(f"质检评分失败：{exc}", file=sys.stderr)
        return 1
    finally:
        db.close()
    took = time.monotonic() - started
    print(f"质检完成：规则版本 {rules.version}，新评分 {count} 通，用时 {took:.1f} 秒")
    return 0


__all__ = ["BATCH", "main_inspect", "run_inspection", "score_batch", "score_pending"]
