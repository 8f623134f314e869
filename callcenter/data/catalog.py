"""The hotline data resource catalogue (GB/T 44192 5.3, 编制热线数据资源目录).

`build_catalog` reflects the LIVE database (tables, columns, types, nullability, primary keys,
indexes, row counts) and joins the notes of `config/catalog.toml` (title, category, owner,
frequency, and per field meaning, grade and kind), plus the data sets held in config files
(knowledge base, agents, departments). It never drifts: a live table or column without a note,
or a note naming one that does not exist, is a `ConfigError` naming the file and dotted key.

`load_annotations` reads the notes alone (cached), for code that needs a field's grade or kind
without a database (masking, audit, exports).
"""

from __future__ import annotations

import json
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic.dataclasses import dataclass as model_dataclass
from sqlalchemy import Connection, Engine, func, inspect, select, table, text
from sqlalchemy.engine.reflection import Inspector
from sqlalchemy.exc import CompileError

from callcenter.config_models import STRICT, Checked, FileModel, Report, Str, problem
from callcenter.data.grades import Grade, Kind, highest
from callcenter.errors import CallcenterError
from callcenter.tomlreader import ConfigError

# Tables of the database that are not data sets: Alembic's bookkeeping and SQLite's FTS5
# virtual table with its shadow tables (the search index of tickets.search_text).
SKIPPED_TABLES = frozenset({"alembic_version"})
SKIPPED_PREFIXES = ("tickets_fts", "knowledge_fts", "sqlite_")

# Above this many rows (by the planner's statistics) PostgreSQL counts are estimates.
EXACT_COUNT_BELOW = 100_000


class UnknownField(CallcenterError, LookupError):
    """A table and column the catalogue does not know."""

    error_id = "data.unknown_field"


# --- annotations (config/catalog.toml) ------------------------------------------------------


def _nonempty(value: str) -> str | None:
    return None if value.strip() else "must not be empty"


def _member(enum: type[Grade] | type[Kind]) -> BeforeValidator:
    """A value of `enum` written as its name ("sensitive"), said as before when it is not."""
    allowed = [e.value for e in enum]

    def check(value: Any) -> Any:
        if not isinstance(value, str):
            raise problem(f"must be a string, got {type(value).__name__} {value!r}")
        if value not in allowed:
            raise problem(f"{value!r} is not one of {', '.join(allowed)}")
        return value

    return BeforeValidator(check)


Text = Annotated[Str, Checked(_nonempty, minLength=1)]


@model_dataclass(frozen=True, config=STRICT)
class FieldNote:
    """One field's note: `{ meaning = "...", grade = "sensitive", kind = "phone" }`."""

    meaning: Text
    grade: Annotated[Grade, _member(Grade)]
    kind: Annotated[Kind, _member(Kind)] = Kind.PLAIN


class SetNote(FileModel):
    title: Text
    dataset: Text  # the category
    owner: Text
    frequency: Text
    description: Text


class TableNote(SetNote):
    """[table.<name>]: a table of the live database, a note for each of its columns."""

    columns: dict[Str, FieldNote]


class ConfigSetNote(SetNote):
    """[[config_dataset]]: the entries of `[[key]]` (or `[key]`) in the config file `file`."""

    name: Text
    file: Text
    key: Text
    fields: dict[Str, FieldNote]


class CatalogFile(FileModel):
    """catalog.toml: the notes of the data resource catalogue (GB/T 44192 5.3)."""

    table: dict[Str, TableNote] = {}
    config_dataset: tuple[ConfigSetNote, ...] = ()


@dataclass(frozen=True)
class DataSetNote:
    """The notes of one data set: a table (`file` empty) or a part of a config file."""

    name: str
    title: str
    category: str
    owner: str
    frequency: str
    description: str
    fields: Mapping[str, FieldNote]
    where: str  # its dotted key in catalog.toml, for error messages
    file: str = ""  # config datasets: the file, relative to the config folder
    key: str = ""  # config datasets: the [[key]] or [key] inside it


@dataclass(frozen=True)
class Annotations:
    file: str  # as errors name it, e.g. "config/catalog.toml"
    tables: Mapping[str, DataSetNote]
    configs: tuple[DataSetNote, ...]

    def note(self, dataset: str) -> DataSetNote:
        found = self.tables.get(dataset)
        if found is not None:
            return found
        for note in self.configs:
            if note.name == dataset:
                return note
        raise UnknownField(f"{dataset}: not in the data catalogue ({self.file})")

    def field(self, dataset: str, column: str) -> FieldNote:
        note = self.note(dataset)
        found = note.fields.get(column)
        if found is None:
            raise UnknownField(f"{dataset}.{column}: not in the data catalogue ({self.file})")
        return found


_cache: dict[Path, tuple[int, Annotations]] = {}


def load_annotations(path: Path) -> Annotations:
    """The notes of catalog.toml, read again only when the file changed."""
    resolved = path.resolve()
    try:
        stamp = resolved.stat().st_mtime_ns
    except OSError as exc:
        raise ConfigError(_display(path), "", f"cannot read: {exc.strerror}") from exc
    cached = _cache.get(resolved)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    annotations = parse_annotations(_read_toml(path), _display(path))
    _cache[resolved] = (stamp, annotations)
    return annotations


def parse_annotations(data: Mapping[str, Any], file: str) -> Annotations:
    """The notes from parsed TOML; every mistake is collected into one ConfigErrors."""
    report = Report()
    found = report.validate(CatalogFile, data, file)
    _unique_names(report, data, file)
    report.raise_if_any()
    assert found is not None
    tables = {
        name: _set_note(name, t, t.columns, f"table.{name}") for name, t in found.table.items()
    }
    configs = tuple(
        replace(_set_note(c.name, c, c.fields, f"config_dataset[{i}]"), file=c.file, key=c.key)
        for i, c in enumerate(found.config_dataset)
    )
    return Annotations(file, tables, configs)


def _unique_names(report: Report, data: Mapping[str, Any], file: str) -> None:
    """A config data set may not take the name of a table or of another one. Read from the
    tables as written, so it is said along with the file's other mistakes."""
    tables, configs = data.get("table"), data.get("config_dataset")
    seen = set(tables) if isinstance(tables, dict) else set()
    for i, body in enumerate(configs if isinstance(configs, list) else ()):
        name = body.get("name") if isinstance(body, dict) else None
        if isinstance(name, str) and name.strip():
            if name in seen:
                error = f"{name!r} is already a data set of this catalogue"
                report.error(file, f"config_dataset[{i}].name", error)
            seen.add(name)


def _set_note(name: str, note: SetNote, fields: Mapping[str, FieldNote], where: str) -> DataSetNote:
    return DataSetNote(
        name,
        note.title,
        note.dataset,
        note.owner,
        note.frequency,
        note.description,
        fields,
        where,
    )


def _display(path: Path) -> str:
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise ConfigError(_display(path), "", f"cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_display(path), "", f"is not valid TOML: {exc}") from exc


# --- the catalogue ---------------------------------------------------------------------------

Error = Callable[[str, str], None]  # (dotted key, message): a drift of the live data


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    meaning: str
    grade: Grade
    kind: Kind
    nullable: bool
    primary_key: bool


@dataclass(frozen=True)
class IndexInfo:
    name: str
    columns: tuple[str, ...]
    unique: bool


@dataclass(frozen=True)
class DataSet:
    name: str  # the table name, or the config data set's name
    title: str
    category: str
    owner: str
    frequency: str
    description: str
    location: str  # "calls", or "config/knowledge.toml [[topic]]"
    fields: tuple[Field, ...]
    rows: int
    rows_estimated: bool
    indexes: tuple[IndexInfo, ...] = ()

    @property
    def grade(self) -> Grade:
        return highest(f.grade for f in self.fields)

    @property
    def is_table(self) -> bool:
        return not self.location.startswith("config/")


@dataclass(frozen=True)
class Catalog:
    dialect: str
    built_at: float
    datasets: tuple[DataSet, ...]

    def dataset(self, name: str) -> DataSet:
        for d in self.datasets:
            if d.name == name:
                return d
        raise UnknownField(f"{name}: not in the data catalogue")

    def field(self, dataset: str, column: str) -> Field:
        for f in self.dataset(dataset).fields:
            if f.name == column:
                return f
        raise UnknownField(f"{dataset}.{column}: not in the data catalogue")


def field_grade(source: Catalog | Annotations, table: str, column: str) -> Grade:
    return source.field(table, column).grade


def field_kind(source: Catalog | Annotations, table: str, column: str) -> Kind:
    return source.field(table, column).kind


def build_catalog(
    engine: Engine,
    annotations_path: Path,
    config_dir: Path,
    exact_count_below: int = EXACT_COUNT_BELOW,
) -> Catalog:
    """Reflect the live database and join the notes; ConfigErrors lists every drift."""
    notes = load_annotations(annotations_path)
    report = Report()
    error = partial(report.error, notes.file)
    datasets: list[DataSet] = []
    with engine.connect() as conn:
        insp = inspect(conn)
        live = {
            t
            for t in insp.get_table_names()
            if t not in SKIPPED_TABLES and not t.startswith(SKIPPED_PREFIXES)
        }
        for name in sorted(live - set(notes.tables)):
            error(
                f"table.{name}",
                "the live table has no annotation (add it with title, dataset, owner, "
                "frequency, description and a note for each column)",
            )
        for name, note in notes.tables.items():  # in the order of the file
            if name in live:
                datasets.append(_table_set(error, conn, insp, note, exact_count_below))
            else:
                error(f"table.{name}", "annotated, but the live database has no such table")
    for note in notes.configs:
        found = _config_set(error, note, config_dir)
        if found is not None:
            datasets.append(found)
    report.raise_if_any()
    return Catalog(engine.dialect.name, time.time(), tuple(datasets))


def _table_set(
    error: Error, conn: Connection, insp: Inspector, note: DataSetNote, exact_below: int
) -> DataSet:
    name = note.name
    pk = set(insp.get_pk_constraint(name).get("constrained_columns") or ())
    fields: list[Field] = []
    live_columns = insp.get_columns(name)
    for col in live_columns:
        fnote = note.fields.get(col["name"])
        if fnote is None:
            error(
                f"{note.where}.columns.{col['name']}",
                "the live column has no annotation (meaning, grade, kind)",
            )
            continue
        fields.append(
            Field(
                col["name"],
                _type_name(col["type"], conn),
                fnote.meaning,
                fnote.grade,
                fnote.kind,
                bool(col["nullable"]),
                col["name"] in pk,
            )
        )
    for column in sorted(set(note.fields) - {c["name"] for c in live_columns}):
        error(f"{note.where}.columns.{column}", f"annotated, but table {name} has no such column")
    indexes = tuple(
        IndexInfo(str(ix["name"]), tuple(str(c) for c in ix["column_names"]), bool(ix["unique"]))
        for ix in insp.get_indexes(name)
    )
    rows, estimated = _row_count(conn, name, exact_below)
    return DataSet(
        name,
        note.title,
        note.category,
        note.owner,
        note.frequency,
        note.description,
        name,
        tuple(fields),
        rows,
        estimated,
        indexes,
    )


def _type_name(type_: Any, conn: Connection) -> str:
    try:
        return str(type_.compile(dialect=conn.dialect))
    except CompileError:
        return type(type_).__name__


def _row_count(conn: Connection, name: str, exact_below: int) -> tuple[int, bool]:
    """Exact count, except a big PostgreSQL table, where the planner's estimate is used."""
    if conn.dialect.name == "postgresql":
        quoted = conn.dialect.identifier_preparer.quote(name)
        estimate = conn.execute(
            text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:t)"), {"t": quoted}
        ).scalar()
        if estimate is not None and estimate >= max(exact_below, 0):
            return int(estimate), True
    count = conn.execute(select(func.count()).select_from(table(name))).scalar_one()
    return int(count), False


def _config_set(error: Error, note: DataSetNote, config_dir: Path) -> DataSet | None:
    path = config_dir / note.file
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        error(f"{note.where}.file", f"cannot read {path}: {exc}")
        return None
    raw = data.get(note.key)
    if isinstance(raw, dict):
        entries: list[dict[str, Any]] = [raw]
        shape = f"[{note.key}]"
    elif isinstance(raw, list) and all(isinstance(e, dict) for e in raw):
        entries = raw
        shape = f"[[{note.key}]]"
    else:
        error(f"{note.where}.key", f"{note.file} has no [[{note.key}]] or [{note.key}]")
        return None
    used: dict[str, set[str]] = {}
    for entry in entries:
        for k, v in entry.items():
            used.setdefault(k, set()).add(_toml_type(v))
    for k in sorted(set(used) - set(note.fields)):
        error(f"{note.where}.fields.{k}", f"{note.file} {shape} uses {k}, which has no annotation")
    fields = tuple(
        Field(
            k,
            "/".join(sorted(used.get(k, {"-"}))),
            f.meaning,
            f.grade,
            f.kind,
            not all(k in e for e in entries),
            False,
        )
        for k, f in note.fields.items()
    )
    return DataSet(
        note.name,
        note.title,
        note.category,
        note.owner,
        note.frequency,
        note.description,
        f"{config_dir.name}/{note.file} {shape}",
        fields,
        len(entries),
        False,
    )


def _toml_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "table"
    return "datetime"


# --- exports ---------------------------------------------------------------------------------


def export_watermark(actor: str, at: datetime) -> str:
    """The text every exported sheet carries: who exported it and when."""
    return f"导出人 {actor}，时间 {at.strftime('%Y-%m-%d %H:%M:%S')}"


def export_stamp(actor: str, at: datetime) -> dict[str, str]:
    """Who exported a JSON document and when, and the watermark line the XLSX exports carry
    (`export_watermark`): the first keys of every exported JSON document."""
    return {
        "exported_by": actor,
        "exported_at": at.isoformat(timespec="seconds"),
        "watermark": export_watermark(actor, at),
    }


def to_json(catalog: Catalog, exported_by: str, exported_at: datetime) -> str:
    """The catalogue as JSON, stamped with who exported it and when (`export_stamp`)."""
    doc = {
        **export_stamp(exported_by, exported_at),
        "dialect": catalog.dialect,
        "built_at": catalog.built_at,
        "datasets": [
            {
                "name": d.name,
                "title": d.title,
                "category": d.category,
                "owner": d.owner,
                "frequency": d.frequency,
                "description": d.description,
                "location": d.location,
                "rows": d.rows,
                "rows_estimated": d.rows_estimated,
                "grade": d.grade.value,
                "fields": [
                    {
                        "name": f.name,
                        "type": f.type,
                        "meaning": f.meaning,
                        "grade": f.grade.value,
                        "kind": f.kind.value,
                        "nullable": f.nullable,
                        "primary_key": f.primary_key,
                    }
                    for f in d.fields
                ],
                "indexes": [
                    {"name": i.name, "columns": list(i.columns), "unique": i.unique}
                    for i in d.indexes
                ],
            }
            for d in catalog.datasets
        ],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2)


def from_json(document: str) -> Catalog:
    """The catalogue `to_json` wrote."""
    doc = json.loads(document)
    return Catalog(
        doc["dialect"],
        float(doc["built_at"]),
        tuple(
            DataSet(
                d["name"],
                d["title"],
                d["category"],
                d["owner"],
                d["frequency"],
                d["description"],
                d["location"],
                tuple(
                    Field(
                        f["name"],
                        f["type"],
                        f["meaning"],
                        Grade(f["grade"]),
                        Kind(f["kind"]),
                        bool(f["nullable"]),
                        bool(f["primary_key"]),
                    )
                    for f in d["fields"]
                ),
                int(d["rows"]),
                bool(d["rows_estimated"]),
                tuple(
                    IndexInfo(i["name"], tuple(i["columns"]), bool(i["unique"]))
                    for i in d["indexes"]
                ),
            )
            for d in doc["datasets"]
        ),
    )


SUMMARY_SHEET = "数据资源目录"
FIELDS_SHEET = "字段清单"
SUMMARY_HEADER = (
    "名称",
    "表名",
    "类别",
    "提供方/责任方",
    "更新频率",
    "字段数",
    "行数",
    "行数口径",
    "最高分级",
    "说明",
)
FIELDS_HEADER = ("数据集", "字段", "类型", "含义", "分级", "是否可空", "主键", "值类别", "表名")


def write_xlsx(catalog: Catalog, path: Path, watermark: str) -> None:
    """Two sheets (summary, fields); the watermark heads each sheet, its printed page header,
    and the workbook's properties (openpyxl: the `reports` extra, imported here)."""
    from openpyxl import Workbook

    wb = Workbook()
    summary = wb.active
    assert summary is not None
    summary.title = SUMMARY_SHEET
    _sheet(
        summary,
        watermark,
        SUMMARY_HEADER,
        (
            (
                d.title,
                d.location,
                d.category,
                d.owner,
                d.frequency,
                len(d.fields),
                d.rows,
                _rows_basis(d),
                d.grade.label,
                d.description,
            )
            for d in catalog.datasets
        ),
    )
    _sheet(
        wb.create_sheet(FIELDS_SHEET),
        watermark,
        FIELDS_HEADER,
        (
            (
                d.title,
                f.name,
                f.type,
                f.meaning,
                f.grade.label,
                "是" if f.nullable else "否",
                "是" if f.primary_key else "",
                f.kind.label,
                d.location,
            )
            for d in catalog.datasets
            for f in d.fields
        ),
    )
    wb.properties.title = "热线数据资源目录"
    wb.properties.subject = "GB/T 44192-2024 5.3 数据目录"
    wb.properties.creator = "callcenter"
    wb.properties.description = watermark
    wb.properties.keywords = watermark
    wb.save(path)


def _sheet(
    ws: Any, watermark: str, header: tuple[str, ...], rows: Iterable[tuple[Any, ...]]
) -> None:
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    ws.append([_cell(watermark)])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    ws.cell(row=1, column=1).font = Font(italic=True, color="808080")
    ws.append(list(header))
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append([_cell(v) for v in row])
    ws.freeze_panes = "A3"
    for i, column in enumerate(ws.iter_cols(min_row=2, values_only=True), start=1):
        width = max((len(str(v)) for v in column if v is not None), default=4)
        ws.column_dimensions[get_column_letter(i)].width = min(2 * width + 2, 60)
    ws.oddHeader.center.text = watermark
    ws.evenHeader.center.text = watermark


def _cell(value: object) -> object:
    """Text that a spreadsheet would run as a formula is kept as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def _rows_basis(d: DataSet) -> str:
    if not d.is_table:
        return "配置条目"
    return "估算" if d.rows_estimated else "精确"


def to_text(catalog: Catalog) -> str:
    """A readable listing for the terminal."""
    tables = sum(1 for d in catalog.datasets if d.is_table)
    lines = [
        f"热线数据资源目录（{catalog.dialect}）：{tables} 个数据表，"
        f"{len(catalog.datasets) - tables} 个配置数据集"
    ]
    for d in catalog.datasets:
        rows = f"约 {d.rows}" if d.rows_estimated else str(d.rows)
        lines.append("")
        lines.append(f"[{d.category}] {d.title}（{d.location}）")
        lines.append(
            f"  提供方/责任方：{d.owner}；更新频率：{d.frequency}；行数：{rows}；"
            f"最高分级：{d.grade.label}"
        )
        lines.append(f"  {d.description}")
        width = max((len(f.name) for f in d.fields), default=0)
        for f in d.fields:
            flags = ("主键 " if f.primary_key else "") + ("可空" if f.nullable else "")
            lines.append(
                f"    {f.name.ljust(width)}  {f.meaning}  [{f.grade.label}/{f.kind.label}]  "
                f"{f.type} {flags}".rstrip()
            )
    return "\n".join(lines) + "\n"


def grades_by_label(catalog: Catalog) -> dict[str, int]:
    """How many fields each grade has (for a report's overview)."""
    counts = {g.label: 0 for g in Grade}
    for d in catalog.datasets:
        for f in d.fields:
            counts[f.grade.label] += 1
    return counts


__all__ = [
    "Annotations",
    "Catalog",
    "DataSet",
    "DataSetNote",
    "Field",
    "FieldNote",
    "IndexInfo",
    "UnknownField",
    "build_catalog",
    "export_stamp",
    "export_watermark",
    "field_grade",
    "field_kind",
    "from_json",
    "load_annotations",
    "parse_annotations",
    "to_json",
    "to_text",
    "write_xlsx",
]
