"""Key rotation of the encrypted ID-card numbers on tickets and of the encrypted citizens'
phone numbers of tickets, calls, callbacks, surveys and profiles (GB/T 44192 8).

Put the new key first and keep the old ones after it (`CALLCENTER_DATA_KEYS=new,old`), run
`rotate_keys`, then drop the old keys once the report shows nothing left under them.

Rows are streamed by id in batches; each batch is one transaction and each row is rewritten
only if its ciphertext is still the one that was read (a compare-and-set, so a concurrent
change is never overwritten). Rows already under the current key are skipped, so a run that
stops half-way resumes where it left off. A value no configured key can decrypt is counted
and reported with its ticket id, and left exactly as it is: never destroyed.

The blind-index key rotates too (`reindex`, `callcenter data rotate-keys --index`): configure
the new index key (the old one is not needed: each hash is computed afresh from the decrypted
number), then run it. Until it is done, lookups by ID number miss the rows it has not reached
yet; the profiles take the new hashes at the next fusion (daily, or `callcenter data fuse`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from callcenter.data.audit import record_access
from callcenter.data.crypto import FieldCipher, KeyConfigError, Undecryptable, load_cipher
from callcenter.storage.database import Database
from callcenter.storage.schema import (
    Base,
    CallbackRecord,
    CallRecord,
    Profile,
    Survey,
    Ticket,
)

SAMPLE_IDS = 100  # undecryptable ticket ids listed in the report (all are counted)


@dataclass(frozen=True)
class Target:
    """An encrypted column, its blind index and how the index is computed."""

    model: type[Base]
    key: str  # the primary key column (streamed in its order)
    column: str
    hashed: str
    start: int | str  # below every key
    phone: bool  # the index of a phone number (FieldCipher.phone_index), else blind_index

    @property
    def table(self) -> str:
        return str(self.model.__table__.name)  # type: ignore[attr-defined]

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"

    def index(self, cipher: FieldCipher, plain: str) -> str:
        return cipher.phone_index(plain) if self.phone else cipher.blind_index(plain)


TARGETS = (
    Target(Ticket, "id", "id_card", "id_card_hash", 0, False),
    Target(CallRecord, "call_id", "caller_number", "caller_number_hash", "", True),
    Target(CallbackRecord, "call_id", "number", "number_hash", "", True),
    Target(Ticket, "id", "caller_number", "caller_number_hash", 0, True),
    Target(Survey, "id", "number", "number_hash", 0, True),
    Target(Profile, "id", "phone", "phone_hash", 0, True),
)


@dataclass
class RotationReport:
    current_key: str
    rotated: int = 0
    already_current: int = 0
    undecryptable: int = 0
    changed_meanwhile: int = 0  # rewritten by someone else between read and write: skipped
    undecryptable_ids: list[int] = field(default_factory=list)  # the first SAMPLE_IDS
    by_column: dict[str, int] = field(default_factory=dict)  # rotated, per "table.column"

    def lines(self) -> list[str]:
        """The report in Chinese, for the operator."""
        out = [
            f"当前密钥：{self.current_key}",
            f"已轮换：{self.rotated} 条",
            f"原已使用当前密钥：{self.already_current} 条",
            f"无法解密（未改动）：{self.undecryptable} 条",
        ]
        if self.changed_meanwhile:
            out.append(f"轮换期间被修改（已跳过，请重新运行）：{self.changed_meanwhile} 条")
        if self.undecryptable_ids:
            more = "……" if self.undecryptable > len(self.undecryptable_ids) else ""
            ids = "、".join(str(i) for i in self.undecryptable_ids)
            out.append(f"无法解密的工单：{ids}{more}")
        return out


def _current_prefix(cipher: FieldCipher) -> str:
    return f"{cipher.current}:%"  # key ids are hex: no LIKE wildcards in them


def _swap(
    session: Session,
    target: Target,
    key: int | str,
    read: Mapping[str, str],
    new: Mapping[str, str],
) -> bool:
    """Compare-and-set: write `new` to the row only if its columns still hold what was
    `read` (a concurrent change is never overwritten). Whether it was written."""
    columns = target.model.__table__.c
    done: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(target.model)
        .where(columns[target.key] == key, *(columns[k] == v for k, v in read.items()))
        .values(**new)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount == 1


def _batch(
    session: Session,
    cipher: FieldCipher,
    after: int | str,
    size: int,
    report: RotationReport,
    target: Target = TARGETS[0],
) -> int | str | None:
    """Rotate the next `size` rows not under the current key after key `after`; the last key
    seen, or None when there are no more."""
    c = target.model.__table__.c
    rows = session.execute(
        select(c[target.key], c[target.column])
        .where(
            c[target.key] > after,
            c[target.column] != "",
            c[target.column].not_like(_current_prefix(cipher)),
        )
        .order_by(c[target.key])
        .limit(size)
    ).all()
    if not rows:
        return None
    for key, stored in rows:
        try:
            fresh = cipher.rotate(stored)
        except Undecryptable:
            report.undecryptable += 1
            if target is TARGETS[0] and len(report.undecryptable_ids) < SAMPLE_IDS:
                report.undecryptable_ids.append(key)
            continue
        if _swap(session, target, key, {target.column: stored}, {target.column: fresh}):
            report.rotated += 1
            report.by_column[target.name] = report.by_column.get(target.name, 0) + 1
        else:
            report.changed_meanwhile += 1
    last: int | str = rows[-1][0]
    return last


def _in_batches(db: Database, step: Callable[..., int | str | None], start: int | str) -> None:
    """Run `step(session, after=<last key>)` one transaction at a time until it returns None."""
    after: int | str | None = start
    while after is not None:
        after = db.transaction(partial(step, after=after))


def _decrypts_on_record(db: Database, dataset: str, fields: tuple[str, ...], purpose: str) -> None:
    """The pass's decrypts as one row of the data access log."""
    db.transaction(
        lambda s: record_access(
            s, "key-rotation", "system", "decrypt", dataset, fields=fields, purpose=purpose
        )
    )


@dataclass
class ReindexReport:
    reindexed: int = 0
    already_current: int = 0
    undecryptable: int = 0
    changed_meanwhile: int = 0

    def lines(self) -> list[str]:
        out = [
            f"已重建索引：{self.reindexed} 条",
            f"原已使用当前索引密钥：{self.already_current} 条",
            f"无法解密（索引未改动）：{self.undecryptable} 条",
        ]
        if self.changed_meanwhile:
            out.append(f"重建期间被修改（已跳过，请重新运行）：{self.changed_meanwhile} 条")
        return out


def _reindex_batch(
    session: Session,
    cipher: FieldCipher,
    after: int | str,
    size: int,
    report: ReindexReport,
    target: Target = TARGETS[0],
) -> int | str | None:
    """Recompute the blind index of the next `size` rows with a value after key `after`;
    the last key seen, or None when there are no more."""
    c = target.model.__table__.c
    rows = session.execute(
        select(c[target.key], c[target.column], c[target.hashed])
        .where(c[target.key] > after, c[target.column] != "")
        .order_by(c[target.key])
        .limit(size)
    ).all()
    if not rows:
        return None
    for key, stored, old in rows:
        try:
            fresh = target.index(cipher, cipher.decrypt(stored))
        except Undecryptable:
            report.undecryptable += 1
            continue
        if fresh == old:
            report.already_current += 1
            continue
        read = {target.column: stored, target.hashed: old}
        if _swap(session, target, key, read, {target.hashed: fresh}):
            report.reindexed += 1
        else:
            report.changed_meanwhile += 1
    last: int | str = rows[-1][0]
    return last


def reindex(db: Database, cipher: FieldCipher, batch: int = 1000) -> ReindexReport:
    """Recompute every ticket's ID-number blind index under the cipher's index key, in
    batches of one transaction each (compare-and-set, as `rotate_keys`), and the phone
    numbers of tickets, calls, callbacks, surveys and profiles; the decrypts are on record in
    the data access log, one row per column that held any."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    report = ReindexReport()
    for target in TARGETS:
        before = report.reindexed
        seen = report.reindexed + report.already_current + report.undecryptable
        step = partial(_reindex_batch, cipher=cipher, target=target, size=batch, report=report)
        _in_batches(db, step, target.start)
        if report.reindexed + report.already_current + report.undecryptable == seen:
            continue  # nothing to decrypt in this table: nothing on record
        _decrypts_on_record(
            db,
            target.table,
            (target.column, target.hashed),
            f"blind index rebuilt under a new index key: {report.reindexed - before} rows",
        )
    return report


def rotate_keys(db: Database, cipher: FieldCipher, batch: int = 1000) -> RotationReport:
    """Re-encrypt every ticket id_card and every phone number (tickets, calls, callbacks,
    surveys, profiles) that is not under the cipher's current key; one access log row per
    column that had any."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    report = RotationReport(cipher.current)
    for target in TARGETS:
        column = target.model.__table__.c[target.column]
        with db.session() as s:
            report.already_current += int(
                s.scalar(
                    select(func.count())
                    .select_from(target.model)
                    .where(column.like(_current_prefix(cipher)))
                )
                or 0
            )
        step = partial(_batch, cipher=cipher, target=target, size=batch, report=report)
        _in_batches(db, step, target.start)
        rotated = report.by_column.get(target.name, 0)
        if rotated:
            _decrypts_on_record(
                db,
                target.table,
                (target.column,),
                f"key rotation to {cipher.current}: {rotated} re-encrypted",
            )
    return report


def main_rotate(db_url: str, index: bool = False) -> int:
    """CLI: rotate with the keys of the environment (see callcenter.data.crypto), and with
    `index` the blind index under the current index key. Exit 0 when every value is under the
    current keys, 1 when some could not be decrypted or changed meanwhile, 2 when the keys are
    missing or corrupt."""
    try:
        cipher = load_cipher()
    except KeyConfigError as exc:
        print(f"密钥配置错误：{exc}", file=sys.stderr)
        return 2
    db = Database(db_url)
    try:
        report = rotate_keys(db, cipher)
        indexed = reindex(db, cipher) if index else None
    finally:
        db.close()
    for line in report.lines() + (indexed.lines() if indexed else []):
        print(line)
    clean = report.undecryptable == 0 and report.changed_meanwhile == 0
    if indexed is not None:
        clean = clean and indexed.undecryptable == 0 and indexed.changed_meanwhile == 0
    return 0 if clean else 1
