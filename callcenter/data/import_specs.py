"""What an imported external file must hold (GB/T 44192 5.1, 5.2), as pure data and pure
checks: per data set its columns with the Chinese header names accepted as aliases, the
header mapping, the validation of each cell and of the rows together (duplicate keys,
references). Every problem names the row as the user sees it (the header is row 1), the
column as written in the file, a stable rule id and a Chinese message. Values that could be
personal (phone numbers, contact names) are never echoed in a message."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as default
from datetime import datetime
from typing import Literal

from sqlalchemy import String

from callcenter.data.checks import check_code, check_date, check_phone, check_uscc, normalize_phone
from callcenter.masking import mask_phone
from callcenter.storage.schema import Base, RefDepartment, RefEnterprise, RefGrid, RefHoliday

Kind = Literal["text", "code", "phone", "uscc", "date", "dictionary", "flag"]

# A cell's stored value: text, or an integer for a yes/no flag
Value = str | int


@dataclass(frozen=True)
class Problem:
    """One mistake in a file: row 0 means the file as a whole."""

    row: int
    column: str
    rule: str
    message: str


@dataclass(frozen=True)
class ColumnSpec:
    field: str
    title: str  # the Chinese header name shown in messages
    aliases: tuple[str, ...]  # further accepted header names (the field name is always one)
    kind: Kind = "text"
    required: bool = False
    max_length: int | None = None
    dictionary: Mapping[str, str] = default(default_factory=dict)  # as written -> stored
    default: Value = ""

    def names(self) -> tuple[str, ...]:
        return (self.title, self.field, *self.aliases)


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    table: type[Base]
    key: str
    columns: tuple[ColumnSpec, ...]
    sheet_names: tuple[str, ...]  # an XLSX sheet of one of these names is read first
    deactivate: str | None = None  # replace marks this flag 0 instead of deleting the row
    parent: str | None = None  # a field naming another key of the same data set

    def column(self, name: str) -> ColumnSpec:
        for column in self.columns:
            if column.field == name:
                return column
        raise KeyError(name)


def _length(table: type[Base], name: str) -> int | None:
    column_type = table.__table__.c[name].type
    return column_type.length if isinstance(column_type, String) else None


def _spec(
    name: str,
    title: str,
    table: type[Base],
    key: str,
    columns: Sequence[ColumnSpec],
    sheet_names: tuple[str, ...],
    **kw: str,
) -> DatasetSpec:
    """The data set, with each text column's maximum length taken from the schema."""
    sized = tuple(
        ColumnSpec(
            c.field,
            c.title,
            c.aliases,
            c.kind,
            c.required,
            _length(table, c.field) if c.kind != "flag" else None,
            c.dictionary,
            c.default,
        )
        for c in columns
    )
    return DatasetSpec(name, title, table, key, sized, (name, title, *sheet_names), **kw)


YES_NO: dict[str, str] = {
    "是": "1",
    "启用": "1",
    "有效": "1",
    "1": "1",
    "y": "1",
    "yes": "1",
    "true": "1",
    "否": "0",
    "停用": "0",
    "无效": "0",
    "0": "0",
    "n": "0",
    "no": "0",
    "false": "0",
}

HOLIDAY_KINDS: dict[str, str] = {
    "节假日": "holiday",
    "放假": "holiday",
    "休": "holiday",
    "holiday": "holiday",
    "调休上班": "workday",
    "上班": "workday",
    "班": "workday",
    "workday": "workday",
}

# 企业登记状态 as the registration authorities publish it
ENTERPRISE_STATUSES: dict[str, str] = {
    s: s
    for s in (
        "存续",
        "在业",
        "在营",
        "开业",
        "迁入",
        "迁出",
        "停业",
        "清算",
        "吊销",
        "注销",
        "撤销",
    )
}

DEPARTMENTS = _spec(
    "departments",
    "部门目录",
    RefDepartment,
    "code",
    (
        ColumnSpec("code", "部门编码", ("编码", "单位编码"), "code", required=True),
        ColumnSpec("name", "部门名称", ("单位名称", "名称"), required=True),
        ColumnSpec("parent", "上级部门", ("上级部门编码", "上级编码")),
        ColumnSpec("function", "政府职能", ("职能",)),
        ColumnSpec("contact", "联系人", ()),
        ColumnSpec("phone", "联系电话", ("电话",), "phone"),
        ColumnSpec(
            "active", "是否启用", ("是否有效", "启用"), "flag", dictionary=YES_NO, default=1
        ),
    ),
    ("部门", "承办单位"),
    deactivate="active",
    parent="parent",
)

HOLIDAYS = _spec(
    "holidays",
    "节假日",
    RefHoliday,
    "day",
    (
        ColumnSpec("day", "日期", (), "date", required=True),
        ColumnSpec("kind", "类型", (), "dictionary", required=True, dictionary=HOLIDAY_KINDS),
        ColumnSpec("name", "名称", ("节日名称", "节日")),
    ),
    ("节假日日历", "日历"),
)

ENTERPRISES = _spec(
    "enterprises",
    "企业登记信息",
    RefEnterprise,
    "code",
    (
        ColumnSpec("code", "统一社会信用代码", ("信用代码",), "uscc", required=True),
        ColumnSpec("name", "企业名称", ("名称",), required=True),
        ColumnSpec("legal_person", "法定代表人", ("法人",)),
        ColumnSpec("address", "注册地址", ("住所",)),
        ColumnSpec("status", "登记状态", ("状态",), "dictionary", dictionary=ENTERPRISE_STATUSES),
    ),
    ("企业", "企业名录"),
)

GRIDS = _spec(
    "grids",
    "网格目录",
    RefGrid,
    "code",
    (
        ColumnSpec("code", "网格编码", ("编码",), "code", required=True),
        ColumnSpec("name", "网格名称", ("名称",), required=True),
        ColumnSpec("street", "街道", ("所属街道", "乡镇街道"), required=True),
        ColumnSpec("district", "区", ("区县", "所属区县", "所属区"), required=True),
    ),
    ("网格",),
)

SPECS: dict[str, DatasetSpec] = {s.name: s for s in (DEPARTMENTS, HOLIDAYS, ENTERPRISES, GRIDS)}
_DATASET_ALIASES = {
    "部门": "departments",
    "节假日": "holidays",
    "企业": "enterprises",
    "网格": "grids",
}


def dataset_spec(name: str) -> DatasetSpec | None:
    """The data set by its name (departments, holidays, enterprises, grids) or Chinese name."""
    key = name.strip().lower()
    return SPECS.get(_DATASET_ALIASES.get(key, key))


# --- header ----------------------------------------------------------------------------------

# a column a file may carry for the reader's sake, ignored on import
IGNORED_HEADERS = frozenset({"序号", "行号", "备注", "no", "no.", "#"})
_NOTE = re.compile(r"[（(][^（）()]*[）)]$")


def normalize_header(text: str) -> str:
    """A header as compared: no blanks or BOM, case-folded, without a trailing required mark
    (部门编码*) or note in brackets (日期（YYYY-MM-DD）)."""
    value = re.sub(r"[\s\u3000\ufeff]", "", text).casefold()
    value = value.rstrip("*＊")
    previous = None
    while previous != value:
        previous = value
        value = _NOTE.sub("", value).rstrip("*＊")
    return value


@dataclass(frozen=True)
class HeaderMap:
    """Which position of a row holds which field, and the header text as written there."""

    positions: dict[str, int]
    headers: dict[str, str]

    def present(self, spec: DatasetSpec) -> tuple[ColumnSpec, ...]:
        return tuple(c for c in spec.columns if c.field in self.positions)


def map_header(spec: DatasetSpec, header: Sequence[str]) -> tuple[HeaderMap, list[Problem]]:
    """Map a header row onto the data set's fields. Problems: a column no field is known by
    (unknown_column), two columns for one field (duplicate_column), a required field with no
    column (missing_column). Blank header cells and the reader's columns (序号) are ignored."""
    names = {normalize_header(n): c for c in spec.columns for n in c.names()}
    positions: dict[str, int] = {}
    headers: dict[str, str] = {}
    problems: list[Problem] = []
    for index, text in enumerate(header):
        normalized = normalize_header(text)
        if not normalized or normalized in IGNORED_HEADERS:
            continue
        column = names.get(normalized)
        if column is None:
            known = "、".join(c.title for c in spec.columns)
            problems.append(
                Problem(
                    1, text, "unknown_column", f"未知的列「{text}」（{spec.title}的列：{known}）"
                )
            )
        elif column.field in positions:
            problems.append(
                Problem(
                    1,
                    text,
                    "duplicate_column",
                    f"列「{text}」与列「{headers[column.field]}」重复（都是{column.title}）",
                )
            )
        else:
            positions[column.field] = index
            headers[column.field] = text
    for column in spec.columns:
        if column.required and column.field not in positions:
            problems.append(
                Problem(1, column.title, "missing_column", f"缺少必填列「{column.title}」")
            )
    return HeaderMap(positions, headers), problems


def header_recognised(spec: DatasetSpec, header: Sequence[str]) -> bool:
    """Whether any cell of a first row names a column: if none does, the file has no header."""
    names = {normalize_header(n) for c in spec.columns for n in c.names()}
    return any(normalize_header(text) in names for text in header)


# --- cells -----------------------------------------------------------------------------------

_CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]*")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d")


@dataclass(frozen=True)
class CellProblem:
    rule: str
    message: str


def validate_cell(column: ColumnSpec, raw: str) -> tuple[Value, CellProblem | None]:
    """The value to store for one cell, or the problem with it. Text is trimmed; an empty
    optional cell takes the column's default."""
    value = raw.strip().replace("\u3000", " ").strip()
    if not value:
        if column.required:
            return column.default, CellProblem("required", f"{column.title}为必填项，不能为空")
        return column.default, None
    stored: Value = value
    if column.kind == "code":
        if not _CODE.fullmatch(value):
            return value, CellProblem(
                "code.format", f"{column.title}「{value}」只能由字母、数字和 . _ - 组成"
            )
    elif column.kind == "phone":
        reason = check_phone(value)
        if reason is not None:
            return value, CellProblem("phone.format", f"{reason}：{mask_phone(value)}")
        stored = normalize_phone(value)
    elif column.kind == "uscc":
        reason = check_uscc(value)
        if reason is not None:
            return value, CellProblem("uscc.check", f"{reason}：{value}")
        stored = value.upper()
    elif column.kind == "date":
        day = parse_date(value)
        if day is None:
            return value, CellProblem(
                "date.format", f"日期「{value}」无效，应写作 YYYY-MM-DD（如 2026-10-01）"
            )
        stored = day
    elif column.kind in ("dictionary", "flag"):
        key = value.casefold() if value.isascii() else value
        if check_code(key, frozenset(column.dictionary)) is not None:
            allowed = "、".join(k for k in column.dictionary if not k.isascii())
            return value, CellProblem(
                "dictionary", f"{column.title}「{value}」不在字典中（可填：{allowed}）"
            )
        mapped = column.dictionary[key]
        stored = int(mapped) if column.kind == "flag" else mapped
    if (
        isinstance(stored, str)
        and column.max_length is not None
        and len(stored) > column.max_length
    ):
        return value, CellProblem(
            "max_length", f"{column.title}过长：{len(stored)} 个字符，最多 {column.max_length} 个"
        )
    return stored, None


def parse_date(value: str) -> str | None:
    """YYYY-MM-DD of a date written 2026-10-01, 2026/10/1, 2026.10.1, 2026年10月1日 or
    20261001; None when it is none of these or not a real day."""
    for fmt in _DATE_FORMATS:
        if check_date(value, fmt) is None:
            return datetime.strptime(value.strip(), fmt).date().isoformat()
    return None


# --- rows ------------------------------------------------------------------------------------

Record = dict[str, Value]


@dataclass
class Validated:
    """The records of a file by key (in file order), the row each came from, the problems."""

    records: dict[str, Record]
    rows: dict[str, int]
    problems: list[Problem]
    count: int  # data rows read
    parents: list[tuple[int, str, str]]  # (row, key, parent) of every row naming a parent


def validate_rows(
    spec: DatasetSpec, header: HeaderMap, rows: Iterable[tuple[int, Sequence[str]]]
) -> Validated:
    """Validate every cell of every data row (row number as in the file), then duplicate
    keys. References to other rows are checked by `check_references`, which needs the keys
    already stored."""
    present = header.present(spec)
    records: dict[str, Record] = {}
    first_row: dict[str, int] = {}
    problems: list[Problem] = []
    parents: list[tuple[int, str, str]] = []
    count = 0
    for number, cells in rows:
        count += 1
        record: Record = {}
        valid = True
        for column in present:
            index = header.positions[column.field]
            raw = cells[index] if index < len(cells) else ""
            value, problem = validate_cell(column, raw)
            if problem is not None:
                valid = False
                problems.append(
                    Problem(number, header.headers[column.field], problem.rule, problem.message)
                )
            record[column.field] = value
        key = record.get(spec.key)
        if not isinstance(key, str) or not key:
            continue
        if key in first_row:
            problems.append(
                Problem(
                    number,
                    header.headers[spec.key],
                    "duplicate_key",
                    f"{spec.column(spec.key).title}「{key}」与第 {first_row[key]} 行重复",
                )
            )
            continue
        first_row[key] = number
        parent = record.get(spec.parent, "") if spec.parent else ""
        if isinstance(parent, str) and parent:
            parents.append((number, key, parent))
        if valid:
            records[key] = record
    return Validated(records, first_row, problems, count, parents)


def check_references(
    spec: DatasetSpec, header: HeaderMap, validated: Validated, stored_keys: Iterable[str]
) -> list[Problem]:
    """A department's parent must be a department of the file or of the stored directory,
    and not the department itself."""
    if spec.parent is None or spec.parent not in header.positions:
        return []
    known = set(validated.rows) | set(stored_keys)
    column = header.headers[spec.parent]
    problems: list[Problem] = []
    for row, key, parent in validated.parents:
        if parent == key:
            problems.append(
                Problem(row, column, "unknown_parent", f"上级部门不能是本部门「{key}」")
            )
        elif parent not in known:
            problems.append(
                Problem(
                    row,
                    column,
                    "unknown_parent",
                    f"上级部门「{parent}」在文件和已有部门目录中都不存在",
                )
            )
    return problems
