"""Retention of the center's data sets (GB/T 44192 8.2): rows past their age are deleted or
anonymised, and each pass reports what it did.

`config/retention.toml` holds the policy, one `[[rule]]` per data set (a table of the live
database): `delete` removes old rows, `anonymise` replaces the fields that identify a person.
Anonymised means the person cannot be identified any more, so a field is either

  * `blank`: set to '' (phone numbers, names, addresses, ID-card ciphertext and its blind
    index; a masked phone such as 138****5678 would still narrow a person down),
  * `mask`: free text kept for statistics and case studies, with every mobile and ID-card
    number in it masked by `callcenter.masking.mask_text`, or
  * `clear`: set to '{}', the empty JSON object, for a JSON column its readers parse.

A row counts as anonymised once its blank fields are '', its cleared fields '{}' and its
masked fields hold no run of 11 digits, so a second pass neither touches nor counts it again.
Audit logs are never deleted or anonymised, and recordings have their own purge
(`callcenter recordings purge`).

A rule's rows are aged by a time column of their own, by one of a linked row (`age_field =
"<table>.<column>"`, the link a column holding that row's primary key), or by another rule:
a rule that `follows` the rule of another data set takes its rows when their linked row is
due under that rule (same days, age and conditions). So a ticket's history, comments,
attachments' names, 回访 number, quality issues and corrections are anonymised together with
the ticket, only once the ticket itself is finished and past its period.

Each rule runs in batches (`[retention] batch` rows per statement) and commits after each
batch, so a big table is never locked for the whole pass and a stopped pass is finished by
the next one. A batch that changes rows commits together with the `data_access_log` row
(action `purge`) of its rule, the first time the rule changes anything, so no committed change
is missing from the access log. Every pass, dry runs included, leaves a `retention_runs` row
with a JSON report per rule: data set, action, cutoff, rows, seconds.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Connection,
    Float,
    String,
    Table,
    and_,
    bindparam,
    cast,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    update,
)

from callcenter.config_models import Checked, FileModel, Int, Report, Str, one_of
from callcenter.data.feed_source import STAGE_OF_ACTION
from callcenter.data.fusion.match import ENTERPRISE, PERSON
from callcenter.data.protection import mask_name
from callcenter.data.quality.corrections import CORRECTABLE
from callcenter.masking import mask_text
from callcenter.storage.database import Database
from callcenter.storage.schema import Base, DataAccess, RetentionRun
from callcenter.tickets.model import Status
from callcenter.tomlreader import ConfigError, read_toml

FILE = "retention.toml"
DAY = 86400.0
ACTIONS = ("delete", "anonymise")
METHODS = ("blank", "mask", "clear")
EMPTY_JSON = "{}"
MAX_BATCH = 100_000
DEFAULT_BATCH = 5000

# Never touched by a retention rule, and why (said in the config error).
KEPT = {
    "data_access_log": "audit logs are kept: the access log is never deleted or anonymised",
    "recording_access": "audit logs are kept: recording access is never deleted or anonymised",
    "audit_log": "audit logs are kept: the supervisors' audit log is never deleted",
    "retention_runs": "the record of retention passes is kept",
    "recordings": "recordings are purged by `callcenter recordings purge` "
    "([recordings] retention_days in center.toml), not here",
    "recording_files": "recordings are purged by `callcenter recordings purge` "
    "([recordings] retention_days in center.toml), not here",
}

# Columns whose values a `where` condition must come from.
VOCABULARIES: dict[tuple[str, str], tuple[str, ...]] = {
    ("tickets", "status"): tuple(s.value for s in Status),
    ("ticket_history", "action"): (*STAGE_OF_ACTION, "correct"),
    ("callbacks", "state"): ("waiting", "scheduled", "dialing", "completed", "unreached"),
    ("surveys", "state"): ("scheduled", "calling", "rated", "manual", "cancelled"),
    ("profiles", "kind"): (PERSON, ENTERPRISE),
    ("data_corrections", "tbl"): ("tickets",),
    ("data_corrections", "field"): tuple(sorted(CORRECTABLE)),
    ("quality_issues", "tbl"): ("tickets",),
}

# Columns holding a person's name: when a rule blanks one, the name is also masked in the
# same row's masked text.
NAME_COLUMNS = ("caller_name", "name")

# Columns naming a file on disk, relative to a root the runner is given: when anonymising
# blanks such a column, the file goes too, once no row names it any longer (attachments are
# stored by content hash, so two tickets may share one).
FILE_COLUMNS = {"ticket_attachments": "path"}

RUNS = Base.metadata.tables[RetentionRun.__tablename__]
ACCESS_LOG = Base.metadata.tables[DataAccess.__tablename__]
_WHERE_KEY = re.compile(r"^([a-z_][a-z0-9_]*?)_(not_in|in)$")
# What every number mask_text masks contains while unmasked, and its masked form does not: a
# run of 7 digits (a mobile, an ID number, a landline's local number) or two groups of 4
# (a mobile or landline written 138 1234 5678, 010-6234-5678). A superset: each row it picks
# is masked in Python and left alone (not counted) when masking changes nothing.
_DIGITS = "[0-9]{7}|[0-9]{4}[ -][0-9]{4}"
_GLOBS = tuple(
    "*" + pattern + "*"
    for pattern in ("[0-9]" * 7, "[0-9]" * 4 + " " + "[0-9]" * 4, "[0-9]" * 4 + "-" + "[0-9]" * 4)
)


@dataclass(frozen=True)
class Condition:
    """`<column>_in = [...]` or `<column>_not_in = [...]`."""

    column: str
    values: tuple[str, ...]
    negate: bool = False


@dataclass(frozen=True)
class Rule:
    dataset: str
    days: int
    action: str  # delete, anonymise
    age_field: str  # a column of the data set, or "<table>.<column>" of a linked table
    fields: tuple[tuple[str, str], ...] = ()  # (column, method) for anonymise
    where: tuple[Condition, ...] = ()
    link: str = ""  # the column holding the linked (or followed) row's primary key
    follows: Rule | None = None  # rows are due when their linked row is due under this rule

    @property
    def linked(self) -> tuple[str, str] | None:
        """(table, epoch column) when the age comes from a linked table's row."""
        if self.follows is not None or "." not in self.age_field:
            return None
        table, column = self.age_field.split(".", 1)
        return table, column


@dataclass(frozen=True)
class RetentionConfig:
    rules: tuple[Rule, ...]
    batch: int = DEFAULT_BATCH


@dataclass
class RuleReport:
    dataset: str
    action: str
    days: int
    cutoff: float
    fields: tuple[str, ...] = ()
    rows: int = 0
    seconds: float = 0.0
    follows: str = ""  # the data set whose rule aged these rows ("" for their own age)
    files: int = 0  # files removed from disk (FILE_COLUMNS) once no row names them

    def as_json(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "dataset": self.dataset,
            "action": self.action,
            "follows": self.follows,
            "days": self.days,
            "cutoff": self.cutoff,
            "cutoff_utc": datetime.fromtimestamp(self.cutoff, UTC).isoformat(),
            "fields": list(self.fields),
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class RetentionResult:
    run_id: int
    dry_run: bool
    reports: list[RuleReport] = field(default_factory=list)

    def report_json(self) -> dict[str, Any]:
        return {
            "state": "done",
            "dry_run": self.dry_run,
            "rules": [r.as_json() for r in self.reports],
        }


# --- pure rules ------------------------------------------------------------------------------


def cutoff(rule: Rule, now: float) -> float:
    """Rows whose age field is before this instant are past the rule's retention."""
    return now - rule.days * DAY


def replacement(method: str, value: str | None) -> str | None:
    """The anonymised value of one field: '' for `blank`, the text with every mobile and
    ID-card number masked for `mask`, '{}' for `clear`. NULL stays NULL (there is nothing to
    identify)."""
    if value is None:
        return None
    if method == "blank":
        return ""
    if method == "mask":
        return mask_text(value)
    if method == "clear":
        return EMPTY_JSON
    raise ValueError(f"unknown anonymisation method {method!r}")


def anonymised(
    fields: Sequence[tuple[str, str]], row: Mapping[str, str | None]
) -> dict[str, str | None]:
    """The fields of `row` that anonymisation changes, with their new values ({} when the row
    is anonymised already). A person's name blanked in the same row (`NAME_COLUMNS`) is also
    masked wherever it appears in the row's masked text (张三反映 -> 张*反映): no pattern finds
    names in free text, but this row says which name to look for."""
    methods = dict(fields)
    names = [
        str(row[c]).strip()
        for c in NAME_COLUMNS
        if methods.get(c) == "blank" and row.get(c) and len(str(row[c]).strip()) >= 2
    ]
    changes: dict[str, str | None] = {}
    for name, method in fields:
        new = replacement(method, row[name])
        if method == "mask" and new:
            for person in names:
                new = new.replace(person, mask_name(person))
        if new != row[name]:
            changes[name] = new
    return changes


def is_epoch_column(column: Column[Any]) -> bool:
    """Times are epoch seconds in Float columns named `at`, `*_at` or `*_seen` (durations
    such as `waited` or `talk_seconds` and offsets such as a segment's `start` are not)."""
    name = column.name
    return isinstance(column.type, Float) and (
        name == "at" or name.endswith("_at") or name.endswith("_seen")
    )


# --- config ----------------------------------------------------------------------------------


def _dataset(value: str) -> str | None:
    if value in KEPT:
        return f"{value!r} cannot have a retention rule: {KEPT[value]}"
    table = Base.metadata.tables.get(value)
    if table is None:
        return f"unknown data set {value!r} (not a table of the database)"
    if len(table.primary_key.columns) != 1:
        return f"{value!r} has no single-column primary key: retention works in batches by it"
    return None


def _batch(value: int) -> str | None:
    return None if 1 <= value <= MAX_BATCH else f"must be from 1 to {MAX_BATCH}"


def _days(value: int) -> str | None:
    return None if value >= 1 else "must be a whole number of days, at least 1"


def _condition(name: str) -> str | None:
    if _WHERE_KEY.match(name):
        return None
    return "unknown condition (allowed: <column>_in, <column>_not_in)"


DataSetName = Annotated[Str, Checked(_dataset)]  # a table of the database retention may touch
Fields = Annotated[
    dict[Str, Annotated[Str, one_of(*METHODS)]],
    Checked(
        lambda v: (
            None if v else 'must be a table { column = "blank" | "mask" } with at least one field'
        ),
        minProperties=1,
    ),
]
Values = Annotated[
    tuple[Str, ...],
    Checked(lambda v: None if v else "must be a non-empty array of strings", minItems=1),
]
ConditionKey = Annotated[Str, Checked(_condition, pattern=_WHERE_KEY.pattern)]


class RetentionKeys(FileModel):
    batch: Annotated[Int, Checked(_batch, minimum=1, maximum=MAX_BATCH)] = DEFAULT_BATCH


class RuleKeys(FileModel):
    """One [[rule]]; what it names (columns, links, the rule it follows) is then checked
    against the database's tables."""

    dataset: DataSetName
    days: Annotated[Int, Checked(_days, minimum=1)] | None = None  # unless it follows one
    action: Annotated[Str, one_of(*ACTIONS)]
    age_field: Str | None = None  # "<column>" or "<table>.<column>"; unless it follows one
    fields: Fields | None = None  # anonymise only: { column = "blank" | "mask" | "clear" }
    where: dict[ConditionKey, Values] | None = None
    link: Str = ""
    follows: DataSetName | None = None


class RetentionFile(FileModel):
    """retention.toml: how long each data set is kept, then deleted or anonymised."""

    retention: RetentionKeys = RetentionKeys()
    rule: tuple[RuleKeys, ...] = ()


Error = Callable[[str, str], None]  # (dotted key, message): said in the load's report


def load_retention(directory: str | Path) -> RetentionConfig:
    """Read config/retention.toml; every mistake names the file and the key (ConfigErrors)."""
    path = Path(directory) / FILE
    data = read_toml(path)
    return parse_retention(data, str(path))


def parse_retention(data: Mapping[str, Any], file: str) -> RetentionConfig:
    report = Report()
    found = report.validate(RetentionFile, data, file)
    written = list(enumerate(found.rule)) if found is not None else _rules_alone(data)
    parsed: list[tuple[str, Rule]] = []
    for i, keys in written:
        rule = _rule(report, file, keys, f"rule[{i}]")
        if rule is not None:
            parsed.append((f"rule[{i}]", rule))
    rules = _resolve_follows(partial(report.error, file), parsed)
    report.raise_if_any()
    assert found is not None
    return RetentionConfig(tuple(rules), found.retention.batch)


def _rules_alone(data: Mapping[str, Any]) -> list[tuple[int, RuleKeys]]:
    """The rules whose own keys are right, in a file with mistakes elsewhere: they are still
    checked against the database, so one load says every mistake."""
    tables = data.get("rule")
    good = []
    for i, table in enumerate(tables if isinstance(tables, list) else ()):
        found = Report().validate(RuleKeys, table, "")
        if found is not None:
            good.append((i, found))
    return good


def _rule(report: Report, file: str, keys: RuleKeys, key: str) -> Rule | None:
    """One rule, checked against the database's tables; a rule that follows another gets it
    in `_resolve_follows` (its `follows` is a placeholder naming the data set until then)."""
    errors = len(report.errors)
    error = partial(report.error, file)
    for name in ("days", "age_field"):
        given = getattr(keys, name) is not None
        if keys.follows is not None and given:
            error(f"{key}.{name}", "is taken from the rule it follows; leave it out")
        elif keys.follows is None and not given:
            error(f"{key}.{name}", "is required")
    if len(report.errors) > errors:
        return None
    target = Base.metadata.tables[keys.dataset]
    link, age_field = keys.link, keys.age_field or ""
    if keys.follows is not None:
        if keys.follows == keys.dataset:
            error(f"{key}.follows", "a rule cannot follow its own data set")
        else:
            leader = Base.metadata.tables[keys.follows]
            link = _link(error, target, leader, link, key, required=True)
    elif problem := _age_field(target, age_field):
        error(f"{key}.age_field", problem)
    elif "." in age_field:
        linked = Base.metadata.tables[age_field.split(".", 1)[0]]
        link = _link(error, target, linked, link, key, required=False)
    elif link:
        error(f"{key}.link", "only a rule aged by a linked table or following one has it")
    fields = _fields(error, target, keys.fields, f"{key}.fields", keys.action)
    where = _where(error, target, keys.where, f"{key}.where")
    if len(report.errors) > errors:
        return None
    placeholder = None if keys.follows is None else Rule(keys.follows, 0, "", "")
    days = keys.days or 0
    return Rule(keys.dataset, days, keys.action, age_field, fields, where, link, placeholder)


def _resolve_follows(error: Error, parsed: list[tuple[str, Rule]]) -> list[Rule]:
    """Each following rule with the rule it follows: the one rule of that data set in the
    file, itself aged on its own (a chain would hide how old the rows really are)."""
    own: dict[str, list[Rule]] = {}
    for _, rule in parsed:
        if rule.follows is None:
            own.setdefault(rule.dataset, []).append(rule)
    rules: list[Rule] = []
    for key, rule in parsed:
        if rule.follows is None:
            rules.append(rule)
            continue
        name = rule.follows.dataset
        candidates = own.get(name, [])
        if len(candidates) == 1 and candidates[0].action == "delete":
            error(
                f"{key}.follows",
                f"the rule of {name} deletes its rows, and a row no longer there is not due: "
                "give this data set an age of its own",
            )
        elif len(candidates) == 1:
            leader = candidates[0]
            rules.append(replace(rule, days=leader.days, follows=leader))
        elif candidates:
            error(
                f"{key}.follows",
                f"{name} has {len(candidates)} rules: follow one data set with a single rule",
            )
        elif any(other.dataset == name for _, other in parsed):
            error(f"{key}.follows", f"the rule of {name} follows another rule itself")
        else:
            error(f"{key}.follows", f"no rule of {name} in this file to follow")
    return rules


def _age_field(target: Table, age_field: str) -> str | None:
    if "." not in age_field:
        column = target.columns.get(age_field)
        if column is None:
            return f"unknown column {age_field!r} of {target.name}"
        return None if is_epoch_column(column) else f"{age_field!r} is not an epoch time column"
    name, column_name = age_field.split(".", 1)
    linked = Base.metadata.tables.get(name)
    if linked is None or linked is target:
        return f"unknown linked table {name!r} (write <table>.<column> of another table)"
    if len(linked.primary_key.columns) != 1:
        return f"{name} has no single-column primary key for {target.name} to name its rows by"
    column = linked.columns.get(column_name)
    if column is None:
        return f"unknown column {column_name!r} of {name}"
    return None if is_epoch_column(column) else f"{age_field!r} is not an epoch time column"


def _link(error: Error, target: Table, linked: Table, link: str, key: str, required: bool) -> str:
    """The column of `target` holding a `linked` row's primary key: `link` when given, else
    (unless required) the column of the same name as that key, when it is not target's own
    key (two serial `id`s name different rows)."""
    primary = _key(linked)
    if not link:
        own = {c.name for c in target.primary_key.columns}
        if not required and primary.name in target.columns and primary.name not in own:
            return primary.name
        where = f"{key}.link" if required else f"{key}.age_field"
        why = (
            "is required" if required else f"{target.name} has no column naming a {linked.name} row"
        )
        error(
            where,
            f"{why}: set link to the column of {target.name} holding {linked.name}.{primary.name}",
        )
        return ""
    column = target.columns.get(link)
    if column is None:
        error(f"{key}.link", f"unknown column {link!r} of {target.name}")
        return ""
    if isinstance(primary.type, String) and not isinstance(column.type, String):
        error(f"{key}.link", f"{link!r} is a number, {linked.name}.{primary.name} is text")
        return ""
    return link


def _fields(
    error: Error, target: Table, data: Mapping[str, str] | None, key: str, action: str
) -> tuple[tuple[str, str], ...]:
    if action == "delete":
        if data is not None:
            error(key, "only an anonymise rule has fields (delete removes whole rows)")
        return ()
    if data is None:
        error(key, 'is required for anonymise: { column = "blank" | "mask" }')
        return ()
    fields: list[tuple[str, str]] = []
    keys = {c.name for c in target.primary_key.columns}
    for name, method in data.items():
        column = target.columns.get(name)
        if column is None:
            error(f"{key}.{name}", f"unknown column {name!r} of {target.name}")
        elif name in keys:
            error(f"{key}.{name}", "the primary key cannot be anonymised")
        elif not isinstance(column.type, String):
            error(f"{key}.{name}", "only text columns can be anonymised")
        else:
            fields.append((name, method))
    return tuple(fields)


def _where(
    error: Error, target: Table, data: Mapping[str, tuple[str, ...]] | None, key: str
) -> tuple[Condition, ...]:
    conditions: list[Condition] = []
    for name, values in (data or {}).items():
        here = f"{key}.{name}"
        match = _WHERE_KEY.match(name)
        assert match is not None  # the model's rule
        column_name, op = match.groups()
        column = target.columns.get(column_name)
        if column is None:
            error(here, f"unknown column {column_name!r} of {target.name}")
            continue
        if not isinstance(column.type, String):
            error(here, "conditions are on text columns only")
            continue
        known = VOCABULARIES.get((target.name, column_name))
        unknown = [(j, v) for j, v in enumerate(values) if known is not None and v not in known]
        for j, value in unknown:
            error(f"{here}[{j}]", f"unknown value {value!r} (known: {', '.join(known or ())})")
        if not unknown:
            conditions.append(Condition(column_name, values, op == "not_in"))
    return tuple(conditions)


# --- runner ----------------------------------------------------------------------------------


def _table(rule: Rule) -> Table:
    return Base.metadata.tables[rule.dataset]


def _key(table: Table) -> Column[Any]:
    return next(iter(table.primary_key.columns))


def _refers(
    link: Column[Any], key: Column[Any], chosen: ColumnElement[bool]
) -> ColumnElement[bool]:
    """Rows whose `link` column names a row of `key`'s table that `chosen` picks (a text
    link, such as a correction's record_id, compares with the key as text)."""
    picked = (
        cast(key, String)
        if not isinstance(key.type, String) and isinstance(link.type, String)
        else key
    )
    return link.in_(select(picked).where(chosen))


def _due(rule: Rule, limit: float) -> ColumnElement[bool]:
    """Rows past the rule's age that its `where` allows; for a rule that follows another, the
    rows whose linked row is due under that rule."""
    table = _table(rule)
    linked = rule.linked
    clauses: list[ColumnElement[bool]]
    if rule.follows is not None:
        leader = _table(rule.follows)
        clauses = [_refers(table.c[rule.link], _key(leader), _due(rule.follows, limit))]
    elif linked is None:
        clauses = [table.c[rule.age_field] < limit]
    else:
        other = Base.metadata.tables[linked[0]]
        clauses = [_refers(table.c[rule.link], _key(other), other.c[linked[1]] < limit)]
    for cond in rule.where:
        column = table.c[cond.column]
        clauses.append(column.not_in(cond.values) if cond.negate else column.in_(cond.values))
    return and_(*clauses)


def retired(config: RetentionConfig, dataset: str, now: float) -> ColumnElement[bool] | None:
    """Rows of `dataset` past a rule of their own (anonymised or deleted by retention, or due
    to be at its next pass), as a condition on the table; None when no rule ages it. Their
    identity was removed on purpose, so governance leaves them out of its scope: an emptied
    number is not an entry mistake. Never NULL: a row whose age column is NULL (a closed
    ticket that lost its closing time) cannot be aged, so it is not retired, and governance
    checks it (under SQL's three-valued logic NOT NULL would have left it out of both)."""
    due = [_due(rule, cutoff(rule, now)) for rule in config.rules if rule.dataset == dataset]
    if not due:
        return None
    return func.coalesce(or_(*due), false(), type_=Boolean)


def _pending(rule: Rule, dialect: str) -> ColumnElement[bool]:
    """Rows not anonymised yet: a blank field is not '', a cleared one not '{}', or a masked
    one may still hold a number (`_DIGITS`)."""
    table = _table(rule)
    clauses: list[ColumnElement[bool]] = []
    for name, method in rule.fields:
        column = table.c[name]
        if method == "blank":
            clauses.append(column != "")
        elif method == "clear":
            clauses.append(column != EMPTY_JSON)
        elif dialect == "sqlite":
            clauses.extend(column.op("GLOB", is_comparison=True)(g) for g in _GLOBS)
        else:
            clauses.append(column.regexp_match(_DIGITS))
    return or_(*clauses)


class RetentionRunner:
    """Applies the rules to a database: `run` does one pass and records it."""

    def __init__(
        self, db: Database, config: RetentionConfig, files: Mapping[str, Path] | None = None
    ) -> None:
        self.db = db
        self.config = config
        self.files = dict(files or {})  # data set -> the root its FILE_COLUMNS are under

    def run(self, now: float, actor: str, dry_run: bool) -> RetentionResult:
        with self.db.engine.begin() as conn:
            inserted = conn.execute(
                insert(RUNS).values(
                    at=now,
                    actor=actor,
                    dry_run=int(dry_run),
                    report=json.dumps({"state": "running", "dry_run": dry_run}),
                )
            )
            key = inserted.inserted_primary_key
            assert key is not None
            run_id = int(key[0])
        result = RetentionResult(run_id, dry_run)
        for rule in self.config.rules:
            started = time.monotonic()
            report = RuleReport(
                rule.dataset,
                rule.action,
                rule.days,
                cutoff(rule, now),
                tuple(f for f, _ in rule.fields),
                follows="" if rule.follows is None else rule.follows.dataset,
            )
            if rule.action == "delete":
                report.rows = self._delete(rule, report.cutoff, run_id, actor, now, dry_run)
            else:
                report.rows, report.files = self._anonymise(
                    rule, report.cutoff, run_id, actor, now, dry_run
                )
            report.seconds = time.monotonic() - started
            result.reports.append(report)
        with self.db.engine.begin() as conn:
            conn.execute(
                update(RUNS)
                .where(RUNS.c.id == run_id)
                .values(report=json.dumps(result.report_json(), ensure_ascii=False))
            )
        return result

    def _delete(
        self, rule: Rule, limit: float, run_id: int, actor: str, now: float, dry_run: bool
    ) -> int:
        table = _table(rule)
        key = _key(table)
        due = _due(rule, limit)
        if dry_run:
            with self.db.engine.connect() as conn:
                return int(
                    conn.execute(select(func.count()).select_from(table).where(due)).scalar_one()
                )
        total = 0
        batch = self.config.batch
        while True:
            with self.db.engine.begin() as conn:
                chosen = select(key).where(due).order_by(key).limit(batch)
                gone = conn.execute(delete(table).where(key.in_(chosen))).rowcount
                if gone and not total:
                    _log_purge(conn, rule, run_id, actor, now)
            total += gone
            if gone < batch:
                return total

    def _anonymise(
        self, rule: Rule, limit: float, run_id: int, actor: str, now: float, dry_run: bool
    ) -> tuple[int, int]:
        """(rows anonymised, files removed)."""
        table = _table(rule)
        key = _key(table)
        names = [name for name, _ in rule.fields]
        file_column = FILE_COLUMNS.get(rule.dataset, "")
        if dict(rule.fields).get(file_column) != "blank":
            file_column = ""
        files = 0
        wanted = and_(_due(rule, limit), _pending(rule, self.db.engine.dialect.name))
        change = (
            update(table)
            .where(key == bindparam("_key"))
            .values({name: bindparam(f"_new_{name}") for name in names})
        )
        total = 0
        last: Any = None
        batch = self.config.batch
        while True:
            with self.db.engine.begin() as conn:
                query = select(key, *(table.c[n] for n in names)).where(wanted)
                if last is not None:
                    query = query.where(key > last)
                rows = conn.execute(query.order_by(key).limit(batch)).all()
                params: list[dict[str, Any]] = []
                for row in rows:
                    values = dict(zip(names, row[1:], strict=True))
                    if changes := anonymised(rule.fields, values):
                        new = {f"_new_{n}": changes.get(n, values[n]) for n in names}
                        params.append({"_key": row[0], **new})
                if params and not dry_run:
                    conn.execute(change, params)
                    if not total:
                        _log_purge(conn, rule, run_id, actor, now)
            if file_column and params:
                files += self._remove_files(rule, file_column, rows, names, params, dry_run)
            total += len(params)
            if len(rows) < batch:
                return total, files
            last = rows[-1][0]

    def _remove_files(
        self,
        rule: Rule,
        column_name: str,
        rows: Sequence[Any],
        names: list[str],
        params: list[dict[str, Any]],
        dry_run: bool,
    ) -> int:
        """Remove the files the anonymised rows named, unless another row still names one;
        the number removed (a dry run: that would be, counting only this batch's rows)."""
        root = self.files.get(rule.dataset)
        if root is None:
            return 0
        table = _table(rule)
        key, column = _key(table), table.c[column_name]
        at = names.index(column_name) + 1
        changed = {p["_key"] for p in params}
        named = {str(r[at]) for r in rows if r[0] in changed and r[at]}
        if not named:
            return 0
        with self.db.engine.connect() as conn:
            kept = set(
                conn.scalars(
                    select(column).where(column.in_(sorted(named)), key.not_in(sorted(changed)))
                )
            )
        removed = 0
        for rel in sorted(named - kept):
            path = (root / rel).resolve()
            if not path.is_relative_to(root.resolve()) or not path.is_file():
                continue  # never outside the root; gone already
            if not dry_run:
                path.unlink()
            removed += 1
        return removed


def _log_purge(conn: Connection, rule: Rule, run_id: int, actor: str, now: float) -> None:
    """The access-log row of a rule that changed data (written with its first change)."""
    purpose = f"retention run {run_id}: {rule.action} rows older than {rule.days} days"
    if rule.follows is not None:
        purpose += f" with their {rule.follows.dataset} row (linked by {rule.link})"
    conn.execute(
        insert(ACCESS_LOG).values(
            at=now,
            actor=actor,
            role="system",
            action="purge",
            dataset=rule.dataset,
            record_id="",
            fields=",".join(name for name, _ in rule.fields),
            purpose=purpose,
            remote="",
        )
    )


# --- command line ----------------------------------------------------------------------------

VERBS = {
    ("delete", False): "删除",
    ("delete", True): "将删除",
    ("anonymise", False): "匿名化",
    ("anonymise", True): "将匿名化",
}


def summary_lines(result: RetentionResult) -> list[str]:
    """The console report (zh-CN): one line per rule."""
    lines = []
    for r in result.reports:
        day = datetime.fromtimestamp(r.cutoff, UTC).date().isoformat()
        verb = VERBS[(r.action, result.dry_run)]
        line = f"{r.dataset}：{verb} {r.rows} 行（{day} 之前，保存 {r.days} 天"
        if r.follows:
            line += f"，随 {r.follows}"
        if r.fields:
            line += f"；字段 {', '.join(r.fields)}"
        if r.files:
            line += f"；{'将' if result.dry_run else '已'}删除文件 {r.files} 个"
        lines.append(line + "）")
    head = "试运行，未改动数据" if result.dry_run else "已执行"
    lines.append(f"数据保存期限清理第 {result.run_id} 次：{head}")
    return lines


def main_retention(
    config_dir: Path,
    db_url: str,
    dry_run: bool,
    actor: str,
    now: float | None,
    attachments: Path | None = None,
) -> int:
    """`callcenter data retention [--dry-run]`: one retention pass over the rules of
    config/retention.toml. Returns 0 when done, 2 when the config is wrong (stderr says
    which file and key)."""
    try:
        config = load_retention(config_dir)
    except ConfigError as exc:
        print(f"保存期限配置有误：\n{exc}", file=sys.stderr)
        return 2
    db = Database(db_url)
    try:
        db.upgrade()
        files = {"ticket_attachments": attachments} if attachments is not None else {}
        result = RetentionRunner(db, config, files).run(
            time.time() if now is None else now, actor, dry_run
        )
    finally:
        db.close()
    print("\n".join(summary_lines(result)))
    return 0
