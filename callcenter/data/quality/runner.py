"""Governance runs against the database (GB/T 44192 6.2, 6.4): full (every ticket) or
incremental (the tickets the change log shows changed since the last finished run).

Tickets stream in chunks of `CHUNK` ids, columns only as the rules need them; reference sets
load once; an ID card is decrypted once per row and only when there is one; duplicates come
from one sorted pass per duplicate rule (per caller, in time order), not per-row queries;
issues are inserted in batches. A problem already open for the same (record, rule, field)
is kept, not duplicated; an open issue whose record a run finds clean is closed with the run's
id (never deleted).

Two times a rule may read are derived per ticket in the same select, by correlated scalar
subqueries: `first_stage_at` (the earliest ticket_history time, by the ticket_id index) and
`call_arrived_at` (its call's joined_at, by the calls primary key). A run's decrypts go on
record: one data_access_log row per run that decrypted, in the run's own transaction.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, insert, not_, select, true, tuple_, update

from callcenter.data.audit import access_values, entry
from callcenter.data.crypto import FieldCipher, Undecryptable
from callcenter.data.quality.config import TABLE
from callcenter.data.quality.rules import (
    CHECKS,
    DIMENSIONS,
    NOW,
    Context,
    Problem,
    Rule,
    column_of,
    deferred,
    in_order,
    scan_duplicates,
)
from callcenter.errors import CallcenterError
from callcenter.storage.database import Database
from callcenter.storage.schema import (
    Base,
    CallRecord,
    ChangeLog,
    DataAccess,
    QualityIssue,
    QualityRun,
    Ticket,
    TicketHistory,
)

CHUNK = 5000
MODES = ("full", "incremental")
# On PostgreSQL a change_log sequence value is taken when the row is inserted but becomes
# visible only at commit, so a lower seq can appear after a higher one was read. A run takes
# as its upto_seq only changes logged more than SETTLE seconds before it started: a
# transaction still open after that long would be missed until the next full run. SQLite has
# one writer at a time, so its seqs commit in order and need no margin.
SETTLE = 5.0

_ISSUES = QualityIssue.__table__
_TICKETS = Ticket.__table__


class QualityRunError(CallcenterError):
    status = 409
    error_id = "data.quality.run"


@dataclass(frozen=True)
class RunResult:
    run_id: int
    mode: str
    from_seq: int
    upto_seq: int
    records: int  # tickets checked
    problems: int  # problems found by this run (already open ones included)
    opened: int  # new issues
    closed: int  # issues closed because their record is now clean
    scores: dict[str, float]  # dimension -> 0..100
    per_rule: dict[str, int]  # rule id -> problems found by this run
    rules: int  # distinct rule ids checked


class Decryptor:
    """stored -> plaintext, or None when it cannot be decrypted; remembers the last value, so
    two rules reading one row's ID card decrypt it once. Counts its decrypt attempts (and the
    failed ones) for the run's access-log row."""

    def __init__(self, cipher: FieldCipher | None) -> None:
        self.cipher = cipher
        self.attempts = 0
        self.failed = 0
        self._last: tuple[str, str | None] | None = None

    def __call__(self, stored: str) -> str | None:
        if self._last is not None and self._last[0] == stored:
            return self._last[1]
        plain: str | None = None
        if self.cipher is not None:
            self.attempts += 1
            try:
                plain = self.cipher.decrypt(stored)
            except Undecryptable:
                self.failed += 1
        self._last = (stored, plain)
        return plain


def decryptor(cipher: FieldCipher | None) -> Callable[[str], str | None]:
    return Decryptor(cipher)


def _decrypts_on_record(
    conn: Connection, decrypt: Decryptor, actor: str, run_id: int, mode: str, at: float
) -> None:
    """The run's decrypts as one access-log row, in the run's transaction (none when it
    decrypted nothing): who started it, how many ID and phone numbers, why."""
    if decrypt.attempts == 0:
        return
    purpose = (
        f"data quality run {run_id} ({mode}): {decrypt.attempts} decrypt attempts "
        f"({decrypt.failed} undecryptable) to check ID numbers (GB 11643) and phone numbers"
    )
    row = entry(
        actor or "governance", "system", "decrypt", TABLE, f"quality_run:{run_id}",
        ("id_card", "caller_number"), purpose,
    )  # fmt: skip
    conn.execute(insert(DataAccess).values(**access_values(row, at)))


def run(
    db: Database,
    rules: Sequence[Rule],
    cipher: FieldCipher | None,
    mode: str,
    actor: str,
    now: datetime,
    retired: ColumnElement[bool] | None = None,
) -> RunResult:
    """One run; `now` is when it starts (its changes cutoff and the date ID cards are
    checked against). `retired` picks the tickets out of scope: past their retention period,
    their identity removed on purpose (`callcenter.data.retention.retired`); they are not
    checked or counted, and their open issues close."""
    if mode not in MODES:
        raise QualityRunError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    enabled = [r for r in rules if r.enabled]
    started = now.timestamp()
    clock = time.monotonic()
    with db.engine.begin() as conn:
        previous = conn.scalar(
            select(QualityRun.upto_seq)
            .where(QualityRun.finished_at.is_not(None))
            .order_by(QualityRun.id.desc())
            .limit(1)
        )
        run_id = int(
            conn.execute(
                insert(QualityRun).values(
                    mode=mode, actor=actor, started_at=started, from_seq=0, upto_seq=0
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )
    from_seq = int(previous or 0) if mode == "incremental" else 0
    with db.engine.begin() as conn:
        upto_seq = _upto_seq(conn, started)
        work = _Work(conn, enabled, cipher, run_id, now.date(), retired, started)
        if mode == "full":
            records = work.full()
            total = records
        else:
            changed = _changed(conn, from_seq, upto_seq)
            records = work.incremental(changed)
            in_scope = select(func.count()).select_from(_TICKETS)
            if retired is not None:
                in_scope = in_scope.where(not_(retired))
            total = int(conn.scalar(in_scope) or 0)
        scores = _scores(conn, total)
        per_rule = {r.id: 0 for r in enabled} | dict(work.per_rule)
        problems = sum(work.per_rule.values())
        document = {**scores, "rules": len(per_rule), "per_rule": per_rule}
        conn.execute(
            update(QualityRun)
            .where(QualityRun.id == run_id)
            .values(
                from_seq=from_seq,
                upto_seq=max(upto_seq, from_seq),
                records=records,
                problems=problems,
                scores=json.dumps(document, ensure_ascii=False),
                finished_at=started + (time.monotonic() - clock),
            )
        )
        _decrypts_on_record(conn, work.decrypt, actor, run_id, mode, time.time())
    return RunResult(
        run_id,
        mode,
        from_seq,
        max(upto_seq, from_seq),
        records,
        problems,
        work.opened,
        work.closed,
        scores,
        per_rule,
        len(per_rule),
    )


def _upto_seq(conn: Connection, started: float) -> int:
    query = select(func.max(ChangeLog.seq))
    if conn.dialect.name != "sqlite":
        query = query.where(ChangeLog.at < started - SETTLE)
    return int(conn.scalar(query) or 0)


def _changed(conn: Connection, from_seq: int, upto_seq: int) -> list[int]:
    """Distinct ticket ids changed in (from_seq, upto_seq], in id order."""
    query = (
        select(ChangeLog.record_id)
        .where(ChangeLog.tbl == TABLE, ChangeLog.seq > from_seq, ChangeLog.seq <= upto_seq)
        .distinct()
    )
    ids = {int(v) for v in conn.scalars(query) if v.isdigit()}
    return sorted(ids)


def _scores(conn: Connection, total: int) -> dict[str, float]:
    """Per dimension: 100 × (1 − records with an open issue in it / records)."""
    query = (
        select(QualityIssue.dimension, func.count(func.distinct(QualityIssue.record_id)))
        .where(QualityIssue.tbl == TABLE, QualityIssue.open == 1)
        .group_by(QualityIssue.dimension)
    )
    bad = {d: int(n) for d, n in conn.execute(query)}
    return {d: score(bad.get(d, 0), total) for d in DIMENSIONS}


def score(bad: int, total: int) -> float:
    if total <= 0:
        return 100.0
    return round(100.0 * (1.0 - min(bad, total) / total), 2)


def _chunks(items: Sequence[int], size: int = CHUNK) -> Iterator[Sequence[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


IssueKey = tuple[str, str, str]  # record id, rule, field


class _Work:
    """The state of one run on one connection."""

    def __init__(
        self,
        conn: Connection,
        rules: Sequence[Rule],
        cipher: FieldCipher | None,
        run_id: int,
        today: date,
        retired: ColumnElement[bool] | None = None,
        now: float = float("inf"),
    ) -> None:
        self.conn = conn
        self.scope = not_(retired) if retired is not None else true()
        self.run_id = run_id
        self.row_rules = in_order(r for r in rules if r.kind != "duplicate")
        self.dup_rules = [r for r in rules if r.kind == "duplicate"]
        self.rule_ids = sorted({r.id for r in rules})
        json_fields = {r.field for r in rules if r.kind == "json_requires"}
        json_fields.update(column_of(n) for r in rules for n in r.checked_fields if "." in n)
        self.json_fields = sorted(json_fields)
        names = {"id", "status"}
        for r in rules:
            names.update(column_of(n) for n in r.checked_fields)
            names.update(n for n in (r.other,) if n and n != NOW)
        self.columns = [_column(n) for n in sorted(names)]
        self.decrypt = Decryptor(cipher)
        self.ctx = Context(refs=self._refs(rules), decrypt=self.decrypt, today=today, now=now)
        self.per_rule: Counter[str] = Counter()
        self.pending: list[dict[str, object]] = []
        self.opened = 0
        self.closed = 0

    def _refs(self, rules: Iterable[Rule]) -> dict[tuple[str, str], frozenset[str]]:
        refs: dict[tuple[str, str], frozenset[str]] = {}
        for r in rules:
            if r.kind == "reference" and (r.table, r.column) not in refs:
                column = Base.metadata.tables[r.table].c[r.column]
                values = self.conn.scalars(select(column).distinct())
                refs[(r.table, r.column)] = frozenset(str(v) for v in values if v is not None)
        return refs

    # --- the two modes ----------------------------------------------------------------------

    def full(self) -> int:
        duplicates = self._duplicates(None)
        still_open = self._open_issues(None)
        records, last = 0, 0
        while True:
            query = (
                select(*self.columns)
                .where(Ticket.id > last, self.scope)
                .order_by(Ticket.id)
                .limit(CHUNK)
            )
            rows = self.conn.execute(query).all()
            if not rows:
                break
            last = rows[-1].id
            records += len(rows)
            self._check(rows, duplicates, still_open)
        self._close(still_open.values())
        self._flush()
        return records

    def incremental(self, changed: Sequence[int]) -> int:
        duplicates = self._duplicates(changed)
        records = 0
        for ids in _chunks(changed):
            still_open = self._open_issues(ids)
            rows = self.conn.execute(
                select(*self.columns).where(Ticket.id.in_(ids), self.scope)
            ).all()
            records += len(rows)
            self._check(rows, duplicates, still_open)
            # issues of a checked record that was not found again (or no longer exists)
            self._close(still_open.values())
        self._flush()
        return records

    # --- steps ------------------------------------------------------------------------------

    def _check(
        self,
        rows: Iterable[Sequence[object]],
        duplicates: dict[int, list[Problem]],
        still_open: dict[IssueKey, int],
    ) -> None:
        names = [c.name for c in self.columns]
        checks = [(CHECKS[r.kind], r) for r in self.row_rules]
        ctx, json_fields = self.ctx, self.json_fields
        for raw in rows:
            row: dict[str, object] = dict(zip(names, raw, strict=True))
            for name in json_fields:
                row[name] = _parse_json(row[name])
            ticket_id = int(str(row["id"]))
            problems: list[Problem] = []
            for kind, rule in checks:
                if rule.unless and deferred(rule, problems):
                    continue
                found = kind(rule, row, ctx)
                if found:
                    problems.extend(found)
            problems.extend(duplicates.pop(ticket_id, ()))
            record = str(ticket_id)
            for p in problems:
                self.per_rule[p.rule] += 1
                if still_open.pop((record, p.rule, p.field), None) is None:
                    self._add(record, p)

    def _add(self, record: str, p: Problem) -> None:
        self.pending.append(
            {
                "run_id": self.run_id,
                "tbl": TABLE,
                "record_id": record,
                "field": p.field,
                "rule": p.rule,
                "dimension": p.dimension,
                "message": p.message,
                "value": p.value,
                "open": 1,
                "closed_run_id": None,
            }
        )
        self.opened += 1
        if len(self.pending) >= CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            self.conn.execute(insert(QualityIssue), self.pending)
            self.pending = []

    def _close(self, issue_ids: Iterable[int]) -> None:
        ids = sorted(issue_ids)
        for chunk in _chunks(ids):
            self.conn.execute(
                update(QualityIssue)
                .where(QualityIssue.id.in_(chunk))
                .values(open=0, closed_run_id=self.run_id)
            )
        self.closed += len(ids)

    def _open_issues(self, ids: Sequence[int] | None) -> dict[IssueKey, int]:
        """Open issues of the rules this run checks: all of them (full) or of these records.
        Issues of rules not checked now (disabled since) stay as they are."""
        query = select(_ISSUES.c.id, _ISSUES.c.record_id, _ISSUES.c.rule, _ISSUES.c.field).where(
            _ISSUES.c.tbl == TABLE, _ISSUES.c.open == 1, _ISSUES.c.rule.in_(self.rule_ids)
        )
        if ids is not None:
            query = query.where(_ISSUES.c.record_id.in_([str(i) for i in ids]))
        return {(rec, rule, fld): int(i) for i, rec, rule, fld in self.conn.execute(query)}

    def _duplicates(self, changed: Sequence[int] | None) -> dict[int, list[Problem]]:
        """Duplicate problems by ticket id: one pass per duplicate rule over the tickets
        sorted by its keys and time (all tickets, or those sharing keys with the changed)."""
        found: dict[int, list[Problem]] = {}
        wanted = None if changed is None else set(changed)
        for rule in self.dup_rules:
            keys = [_TICKETS.c[k] for k in rule.keys]
            cols = [_TICKETS.c.id, *keys, _TICKETS.c[rule.other], _TICKETS.c[rule.field]]
            names = [c.name for c in cols]
            order = [*keys, _TICKETS.c[rule.other], _TICKETS.c.id]
            for group in self._key_groups(rule, changed):
                query = select(*cols).order_by(*order).execution_options(yield_per=CHUNK)
                if group is not None and len(keys) == 1:
                    query = query.where(keys[0].in_([v[0] for v in group]))
                elif group is not None:
                    query = query.where(tuple_(*keys).in_(group))
                rows = (dict(zip(names, raw, strict=True)) for raw in self.conn.execute(query))
                for ticket_id, problem in scan_duplicates(rule, rows):
                    tid = int(str(ticket_id))
                    if wanted is None or tid in wanted:
                        found.setdefault(tid, []).append(problem)
        return found

    def _key_groups(
        self, rule: Rule, changed: Sequence[int] | None
    ) -> Iterator[list[tuple[object, ...]] | None]:
        """None (every ticket, full run), or the key values of the changed tickets in lists
        of at most CHUNK."""
        if changed is None:
            yield None
            return
        keys = [_TICKETS.c[k] for k in rule.keys]
        values: set[tuple[object, ...]] = set()
        for ids in _chunks(changed):
            query = select(*keys).where(Ticket.id.in_(ids)).distinct()
            values.update(tuple(v) for v in self.conn.execute(query))
        ordered = sorted(values, key=repr)
        for i in range(0, len(ordered), CHUNK):
            yield ordered[i : i + CHUNK]


def _column(name: str) -> ColumnElement[Any]:
    """A ticket column, or a time derived per ticket (rules.DERIVED) as a correlated scalar
    subquery: both read one index entry per ticket (ticket_history by ticket_id and seq,
    calls by call_id)."""
    if name == "first_stage_at":
        first = select(func.min(TicketHistory.at)).where(TicketHistory.ticket_id == Ticket.id)
        return first.scalar_subquery().label(name)
    if name == "call_arrived_at":
        call = select(CallRecord.joined_at).where(CallRecord.call_id == Ticket.call_id)
        return call.scalar_subquery().label(name)
    return _TICKETS.c[name]


def _parse_json(value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return None
