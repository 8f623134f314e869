"""Import of external reference data (GB/T 44192 5.1, 5.2): the department directory, the
holiday calendar, the enterprise registry and the grid list, from CSV (UTF-8 with or without
BOM, or GB18030) or XLSX.

Every cell is validated first (`callcenter.data.import_specs`); a file with any error
imports nothing. An import is one transaction: the `import_runs` row, the inserted and
updated rows (each carrying the run's id as `import_id`) and, in `replace` mode, the
deleted (departments: deactivated) rows. A rejected file and a dry run write only their
`import_runs` row, with the full report. Rows go in bulk statements, not one ORM object
per row: 100,000 rows take seconds."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import posixpath
import sys
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from datetime import time as day_time
from pathlib import Path
from typing import Any, Literal, cast
from xml.etree import ElementTree

from sqlalchemy import Table as SqlTable
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from callcenter.data.import_specs import (
    DatasetSpec,
    Problem,
    Record,
    check_references,
    dataset_spec,
    header_recognised,
    map_header,
    validate_rows,
)
from callcenter.errors import CallcenterError
from callcenter.storage.database import Database
from callcenter.storage.schema import ImportRun

log = logging.getLogger(__name__)

Mode = Literal["upsert", "replace"]
MODES: tuple[Mode, ...] = ("upsert", "replace")
MAX_ROWS = 200_000  # a larger file is refused rather than held in memory
MAX_REPORTED = 1000  # errors and deleted keys kept in a report (counts are always full)
_CHUNK = 1000  # keys per IN (...) list


class ImportRequestError(CallcenterError, ValueError):
    """The import cannot be asked for: unknown data set or mode."""

    status = 400
    error_id = "data.import.request"


@dataclass
class ImportReport:
    """What an import did or would do. `errors` holds at most MAX_REPORTED problems;
    `error_count` is the full number."""

    dataset: str
    file: str
    sha256: str
    mode: str
    dry_run: bool
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    deleted_keys: list[str] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    error_count: int = 0
    state: str = ""  # imported, rejected, checked
    import_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)


# --- reading a file --------------------------------------------------------------------------


class FileRefused(CallcenterError):
    """The file as a whole cannot be read: one problem says why."""

    status = 400
    error_id = "data.file_refused"

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.problem = Problem(0, "", rule, message)


@dataclass
class FileTable:
    """A file's header (row `header_row`) and its non-empty data rows with their numbers."""

    header: list[str]
    header_row: int
    rows: list[tuple[int, list[str]]]


def read_table(spec: DatasetSpec, file_name: str, data: bytes) -> FileTable:
    """The header and rows of a CSV or XLSX file. FileRefused when it is neither, is empty,
    cannot be decoded or has no header."""
    suffix = Path(file_name).suffix.lower()
    if not data.strip():
        raise FileRefused("empty_file", "文件为空")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileRefused("file_format", "不支持旧版 Excel（.xls）文件，请另存为 .xlsx 或 CSV")
    if data.startswith(b"PK\x03\x04"):
        lines = _xlsx_rows(spec, data)
    elif suffix in ("", ".csv", ".txt") and b"\x00" not in data[:4096]:
        lines = _csv_rows(data)
    else:
        raise FileRefused("file_format", f"文件「{file_name}」不是 CSV 或 XLSX 文件")
    header: list[str] | None = None
    header_row = 0
    rows: list[tuple[int, list[str]]] = []
    for number, cells in lines:
        if not any(c.strip() for c in cells):
            continue
        if header is None:
            header, header_row = cells, number
            continue
        rows.append((number, cells))
        if len(rows) > MAX_ROWS:
            raise FileRefused("too_many_rows", f"文件超过 {MAX_ROWS} 行，请分批导入")
    if header is None:
        raise FileRefused("empty_file", "文件中没有任何数据")
    if not header_recognised(spec, header):
        names = "、".join(c.title for c in spec.columns)
        raise FileRefused(
            "no_header", f"第 {header_row} 行不是{spec.title}的表头（第一行应为列名：{names}）"
        )
    return FileTable(header, header_row, rows)


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) first, then GB18030 (government exports)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise FileRefused("encoding", "文件编码无法识别（应为 UTF-8 或 GB18030）") from exc


def _csv_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    text = decode_text(data)
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", "\t", ";"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        yield from enumerate(reader, start=1)
    except csv.Error as exc:
        raise FileRefused("file_format", f"CSV 格式错误（第 {reader.line_num} 行）：{exc}") from exc


def cell_text(value: object) -> str:
    """An XLSX cell as the text a CSV would hold: whole numbers without '.0', dates as
    YYYY-MM-DD, TRUE/FALSE as true/false."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        if value.time() == day_time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# XLSX is read straight from its XML parts (streamed with the C XML parser): openpyxl's
# cell objects take 20 s for 100,000 rows on this hardware, this takes 3 s. openpyxl still
# supplies the number formats, the date conversion and the column letters, and the tests
# compare this reader with openpyxl's on the same workbooks.
_DATE_FORMAT_IDS = frozenset({*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)})


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml(book: zipfile.ZipFile, name: str) -> ElementTree.Element:
    return ElementTree.fromstring(book.read(name))


def _relations(book: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """Id -> (type's last word, part name) of a part's relationships."""
    folder, _, base = part.rpartition("/")
    rels = f"{folder}/_rels/{base}.rels" if folder else f"_rels/{base}.rels"
    if rels not in book.namelist():
        return {}
    found: dict[str, tuple[str, str]] = {}
    for rel in _xml(book, rels):
        target = rel.get("Target", "")
        if target.startswith("/"):
            name = target.lstrip("/")
        else:
            name = posixpath.normpath(posixpath.join(folder, target))
        found[rel.get("Id", "")] = (rel.get("Type", "").rsplit("/", 1)[-1], name)
    return found


def _text(element: ElementTree.Element) -> str:
    """The text of a shared or inline string: its <t>, or its runs' <t> (not phonetic runs)."""
    parts: list[str] = []
    for child in element:
        name = _local(child.tag)
        if name == "t":
            parts.append(child.text or "")
        elif name == "r":
            parts.extend(t.text or "" for t in child if _local(t.tag) == "t")
    return "".join(parts)


def _shared_strings(book: zipfile.ZipFile, part: str | None) -> list[str]:
    if part is None:
        return []
    strings: list[str] = []
    with book.open(part) as stream:
        for _, element in ElementTree.iterparse(stream):
            if _local(element.tag) == "si":
                strings.append(_text(element))
                element.clear()
    return strings


def _date_styles(book: zipfile.ZipFile, part: str | None) -> list[bool]:
    """Per cell style (cellXfs index): whether its number format shows a date or time."""
    from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format

    if part is None:
        return []
    root = _xml(book, part)
    custom = {
        int(f.get("numFmtId", "0")): f.get("formatCode", "")
        for f in root.iter()
        if _local(f.tag) == "numFmt"
    }
    styles: list[bool] = []
    for section in root:
        if _local(section.tag) != "cellXfs":
            continue
        for xf in section:
            fmt = int(xf.get("numFmtId", "0"))
            code = custom.get(fmt, BUILTIN_FORMATS.get(fmt, ""))
            styles.append(fmt in _DATE_FORMAT_IDS or (fmt in custom and is_date_format(code)))
    return styles


def _number(text: str, is_date: bool, epoch: datetime) -> str:
    number = float(text)
    if is_date:
        from openpyxl.utils.datetime import from_excel

        return cell_text(from_excel(number, epoch))
    return cell_text(int(text) if text.lstrip("-").isdigit() else number)


def _xlsx_rows(spec: DatasetSpec, data: bytes) -> Iterator[tuple[int, list[str]]]:
    """The rows of the sheet named for the data set, else of the first sheet: cached values
    of formulas, whole numbers without '.0', dates as YYYY-MM-DD. openpyxl's number formats
    and date epochs read them: the `reports` extra, imported here."""
    try:
        from openpyxl.utils.cell import column_index_from_string
        from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900
    except ImportError as exc:
        raise FileRefused(
            "file_format", "读取 XLSX 文件需要 openpyxl：pip install 'callcenter[reports]'"
        ) from exc
    try:
        book = zipfile.ZipFile(io.BytesIO(data))
        office = [n for t, n in _relations(book, "").values() if t == "officeDocument"]
        workbook_part = office[0] if office else "xl/workbook.xml"
        workbook = _xml(book, workbook_part)
        relations = _relations(book, workbook_part)
        by_type = {t: n for t, n in relations.values()}
        epoch = CALENDAR_WINDOWS_1900
        sheets: list[tuple[str, str]] = []
        for element in workbook.iter():
            name = _local(element.tag)
            if name == "workbookPr" and element.get("date1904") in ("1", "true"):
                epoch = CALENDAR_MAC_1904
            elif name == "sheet":
                rid = next((v for k, v in element.attrib.items() if _local(k) == "id"), "")
                if rid in relations:
                    sheets.append((element.get("name", ""), relations[rid][1]))
        if not sheets:
            raise FileRefused("empty_file", "XLSX 文件中没有工作表")
        wanted = {n.casefold() for n in spec.sheet_names}
        named = [part for title, part in sheets if title.strip().casefold() in wanted]
        sheet = named[0] if named else sheets[0][1]
        strings = _shared_strings(book, by_type.get("sharedStrings"))
        dates = _date_styles(book, by_type.get("styles"))
        stream = book.open(sheet)
    except (zipfile.BadZipFile, KeyError, ValueError, ElementTree.ParseError) as exc:
        raise FileRefused("file_format", f"无法读取 XLSX 文件：{exc}") from exc
    number = 0
    try:
        tags: tuple[str, str, str] | None = None  # row, v, is in the namespace of the rows
        for _, element in ElementTree.iterparse(stream):
            if tags is None:
                if _local(element.tag) != "row":
                    continue
                ns = element.tag[: element.tag.find("}") + 1]
                tags = (ns + "row", ns + "v", ns + "is")
            elif element.tag != tags[0]:
                continue
            number = int(element.get("r", number + 1))
            cells: list[str] = []
            for cell in element:
                ref = cell.get("r")
                if ref:
                    column = column_index_from_string(ref.rstrip("0123456789")) - 1
                    if column > len(cells):
                        cells.extend([""] * (column - len(cells)))
                kind = cell.get("t", "n")
                found = cell.find(tags[1])
                value = (found.text or "") if found is not None else ""
                if kind == "s":
                    text = strings[int(value)] if value else ""
                elif kind == "inlineStr":
                    inline = cell.find(tags[2])
                    text = _text(inline) if inline is not None else ""
                elif kind == "b":
                    text = "true" if value == "1" else "false"
                elif kind == "n" and value:
                    style = int(cell.get("s", "0"))
                    text = _number(value, style < len(dates) and dates[style], epoch)
                elif kind == "d" and value:
                    text = cell_text(datetime.fromisoformat(value))
                else:  # str (a formula's text), e (an error such as #N/A)
                    text = value
                cells.append(text)
            element.clear()
            yield number, cells
    except (ValueError, IndexError, ElementTree.ParseError) as exc:
        raise FileRefused("file_format", f"XLSX 第 {number + 1} 行无法读取：{exc}") from exc
    finally:
        stream.close()
        book.close()


# --- importing -------------------------------------------------------------------------------


@dataclass
class _Plan:
    inserts: list[Record]
    updates: list[Record]
    unchanged: int
    removed: list[str]


def import_file(
    db: Database,
    dataset: str,
    file_name: str,
    data: bytes,
    actor: str,
    dry_run: bool = False,
    mode: str = "upsert",
) -> ImportReport:
    """Validate and import one file. The report's state: `imported`, `rejected` (any error:
    nothing imported) or `checked` (dry run: nothing imported). Every call leaves one
    `import_runs` row. ImportRequestError for an unknown data set or mode."""
    spec = dataset_spec(dataset)
    if spec is None:
        raise ImportRequestError(
            f"未知的数据集「{dataset}」（可选：departments、holidays、enterprises、grids）"
        )
    if mode not in MODES:
        raise ImportRequestError(f"未知的导入方式「{mode}」（可选：upsert、replace）")
    report = ImportReport(spec.name, file_name, hashlib.sha256(data).hexdigest(), mode, dry_run)
    try:
        table = read_table(spec, file_name, data)
    except FileRefused as refused:
        return _finish_rejected(db, report, [refused.problem], actor)
    header, problems = map_header(spec, table.header)
    problems = [  # header problems on the header's own row
        Problem(table.header_row, p.column, p.rule, p.message) for p in problems
    ]
    validated = validate_rows(spec, header, table.rows)
    report.rows = validated.count
    problems.extend(validated.problems)
    fields = [c.field for c in header.present(spec)]
    try:
        with db.session() as s:
            stored = _stored(s, spec, fields) if spec.key in fields else {}
            problems.extend(check_references(spec, header, validated, stored))
            if not problems:
                plan = _plan(spec, fields, validated.records, stored, mode)
                report.inserted = len(plan.inserts)
                report.updated = len(plan.updates)
                report.unchanged = plan.unchanged
                report.deleted = len(plan.removed)
                report.deleted_keys = plan.removed[:MAX_REPORTED]
            if not problems and not dry_run:
                report.state = "imported"
                run = _run_row(report, actor)
                s.add(run)
                s.flush()
                report.import_id = run.id
                _apply(s, spec, plan, run.id)
                run.report = report.to_json()
                s.commit()
    except SQLAlchemyError as exc:
        log.exception("import of %s (%s) failed in the database", file_name, spec.name)
        message = f"写入数据库失败，未导入任何数据：{type(exc).__name__}"
        report.inserted = report.updated = report.unchanged = report.deleted = 0
        report.deleted_keys = []
        report.import_id = None
        return _finish_rejected(db, report, [Problem(0, "", "database", message)], actor)
    if problems:
        return _finish_rejected(db, report, problems, actor)
    if dry_run:
        report.state = "checked"
        _record(db, report, actor)
    log.info(
        "import %s %s by %s: %s, %d rows, +%d ~%d =%d -%d",
        spec.name,
        file_name,
        actor,
        report.state,
        report.rows,
        report.inserted,
        report.updated,
        report.unchanged,
        report.deleted,
    )
    return report


def _stored(s: Session, spec: DatasetSpec, fields: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    """Key -> the stored values of the file's fields (the key first, in the file's field
    order), then of the deactivation flag when the file has no such column."""
    table = spec.table.__table__
    names = list(fields)
    if spec.deactivate is not None and spec.deactivate not in names:
        names.append(spec.deactivate)
    result = s.execute(select(*(table.c[n] for n in names)))
    return {str(row[0]): tuple(row) for row in result}


def _plan(
    spec: DatasetSpec,
    fields: Sequence[str],
    records: dict[str, Record],
    stored: dict[str, tuple[Any, ...]],
    mode: str,
) -> _Plan:
    """What the file changes. Only the file's own columns are compared and written: a column
    the file does not have keeps its stored values (new rows take the default)."""
    width = len(fields)
    inserts: list[Record] = []
    updates: list[Record] = []
    unchanged = 0
    for key, record in records.items():
        old = stored.get(key)
        if old is None:
            inserts.append(record)
        elif old[:width] == tuple(record[f] for f in fields):
            unchanged += 1
        else:
            updates.append(record)
    removed: list[str] = []
    if mode == "replace":
        flag = None
        if spec.deactivate is not None:
            flag = (*fields, spec.deactivate).index(spec.deactivate)
        for key, old in stored.items():
            if key in records or (flag is not None and old[flag] == 0):
                continue  # in the file, or a department already inactive
            removed.append(key)
    return _Plan(inserts, updates, unchanged, removed)


def _apply(s: Session, spec: DatasetSpec, plan: _Plan, import_id: int) -> None:
    table = cast(SqlTable, spec.table.__table__)
    key = table.c[spec.key]
    if plan.inserts:
        s.execute(insert(table), [{**r, "import_id": import_id} for r in plan.inserts])
    if plan.updates:
        s.execute(update(spec.table), [{**r, "import_id": import_id} for r in plan.updates])
    for start in range(0, len(plan.removed), _CHUNK):
        chunk = plan.removed[start : start + _CHUNK]
        if spec.deactivate is not None:
            s.execute(
                update(table)
                .where(key.in_(chunk))
                .values({spec.deactivate: 0, "import_id": import_id})
            )
        else:
            s.execute(delete(table).where(key.in_(chunk)))


def _run_row(report: ImportReport, actor: str) -> ImportRun:
    return ImportRun(
        dataset=report.dataset,
        file_name=report.file[:255],
        sha256=report.sha256,
        actor=actor[:64],
        at=time.time(),
        dry_run=int(report.dry_run),
        state=report.state,
        rows=report.rows,
        report=report.to_json(),
    )


def _record(db: Database, report: ImportReport, actor: str) -> None:
    """The run's own row, in its own transaction (a rejected file or a dry run)."""
    run = _run_row(report, actor)

    def work(s: Session) -> None:
        s.add(run)
        s.flush()
        report.import_id = run.id
        run.report = report.to_json()

    db.transaction(work)


def _finish_rejected(
    db: Database, report: ImportReport, problems: list[Problem], actor: str
) -> ImportReport:
    problems = sorted(problems, key=lambda p: p.row)  # stable: in column order within a row
    report.errors = problems[:MAX_REPORTED]
    report.error_count = len(problems)
    report.state = "rejected"
    _record(db, report, actor)
    log.info(
        "import %s %s by %s rejected: %d problems",
        report.dataset,
        report.file,
        actor,
        report.error_count,
    )
    return report


# --- rendering and command line --------------------------------------------------------------

_STATES = {
    "imported": "已导入",
    "rejected": "已拒绝（未导入任何数据）",
    "checked": "已校验（试运行，未写入）",
}


def render_report(report: ImportReport) -> str:
    """The report for a terminal."""
    trial = "，试运行" if report.dry_run else ""
    lines = [
        f"导入 {report.dataset} ← {report.file}（{report.mode}{trial}）",
        f"结果 state: {_STATES.get(report.state, report.state)}",
        f"批次 import_id: {report.import_id}",
        f"SHA-256: {report.sha256}",
        f"数据行 rows: {report.rows}；新增 inserted: {report.inserted}；更新 updated: "
        f"{report.updated}；未变 unchanged: {report.unchanged}；"
        f"{'停用' if report.dataset == 'departments' else '删除'} deleted: {report.deleted}",
    ]
    if report.deleted_keys:
        more = report.deleted - len(report.deleted_keys)
        keys = "、".join(report.deleted_keys[:20])
        if more > 0 or len(report.deleted_keys) > 20:
            keys += f" 等 {report.deleted} 条"
        lines.append(f"不在文件中的记录：{keys}")
    if report.error_count:
        lines.append(f"错误 errors: {report.error_count}")
        for p in report.errors:
            where = f"第 {p.row} 行" if p.row else "文件"
            column = f"「{p.column}」列" if p.column else ""
            lines.append(f"  {where}{column} [{p.rule}] {p.message}")
        if report.error_count > len(report.errors):
            lines.append(f"  ……另有 {report.error_count - len(report.errors)} 个错误未列出")
    return "\n".join(lines)


def main_import(
    config_dir: Path,
    db_url: str,
    dataset: str,
    file: Path,
    dry_run: bool,
    actor: str,
    mode: str,
) -> int:
    """`callcenter data import DATASET FILE [--dry-run]`. Prints the report; returns 0 when
    imported (or checked clean), 1 when the file was rejected, 2 when the import could not
    be asked for (unknown data set or mode, unreadable file). The reference data sets need
    no configuration: `config_dir` is accepted for the command line's uniformity."""
    del config_dir
    try:
        data = file.read_bytes()
    except OSError as exc:
        print(f"导入失败：无法读取文件 {file}：{exc.strerror or exc}", file=sys.stderr)
        return 2
    db = Database(db_url)
    try:
        report = import_file(db, dataset, file.name, data, actor, dry_run, mode)
    except ImportRequestError as exc:
        print(f"导入失败：{exc}", file=sys.stderr)
        return 2
    finally:
        db.close()
    print(render_report(report))
    return 1 if report.state == "rejected" else 0
