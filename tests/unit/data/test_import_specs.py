"""Import specs as tables: header mapping with Chinese aliases, cell validation per kind,
duplicate keys and parent references with row numbers, reading CSV/XLSX bytes, and the
streaming XLSX reader compared with openpyxl's on Excel-like and openpyxl-written files."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime

import pytest
from openpyxl import Workbook, load_workbook

from callcenter.data.import_specs import (
    DEPARTMENTS,
    ENTERPRISES,
    GRIDS,
    HOLIDAYS,
    SPECS,
    DatasetSpec,
    Problem,
    Value,
    check_references,
    dataset_spec,
    map_header,
    normalize_header,
    validate_cell,
    validate_rows,
)
from callcenter.data.imports import FileRefused, cell_text, decode_text, read_table


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("部门编码", "部门编码"),
        (" 部门 编码 ", "部门编码"),
        ("\ufeff部门编码", "部门编码"),
        ("部门编码*", "部门编码"),
        ("部门编码＊", "部门编码"),
        ("日期（YYYY-MM-DD）", "日期"),
        ("日期(yyyy-mm-dd)*", "日期"),
        ("Code", "code"),
        ("LEGAL_PERSON", "legal_person"),
        ("\u3000名称\u3000", "名称"),
        ("", ""),
    ],
)
def test_normalize_header(text: str, normalized: str) -> None:
    assert normalize_header(text) == normalized


@pytest.mark.parametrize(
    ("spec", "header", "positions", "rules"),
    [
        (
            DEPARTMENTS,
            ["部门编码", "部门名称", "上级部门", "政府职能", "联系人", "联系电话", "是否启用"],
            {
                "code": 0,
                "name": 1,
                "parent": 2,
                "function": 3,
                "contact": 4,
                "phone": 5,
                "active": 6,
            },
            [],
        ),
        (DEPARTMENTS, ["code", "name"], {"code": 0, "name": 1}, []),
        (DEPARTMENTS, ["序号", "名称", "编码"], {"name": 1, "code": 2}, []),
        (DEPARTMENTS, ["部门编码", "", "部门名称", ""], {"code": 0, "name": 2}, []),
        (DEPARTMENTS, ["部门编码"], {"code": 0}, [("部门名称", "missing_column")]),
        (
            DEPARTMENTS,
            ["部门编码", "部门名称", "编码"],
            {"code": 0, "name": 1},
            [("编码", "duplicate_column")],
        ),
        (
            DEPARTMENTS,
            ["部门编码", "部门名称", "传真"],
            {"code": 0, "name": 1},
            [("传真", "unknown_column")],
        ),
        (HOLIDAYS, ["日期", "类型", "名称"], {"day": 0, "kind": 1, "name": 2}, []),
        (HOLIDAYS, ["day", "kind"], {"day": 0, "kind": 1}, []),
        (HOLIDAYS, ["日期"], {"day": 0}, [("类型", "missing_column")]),
        (
            ENTERPRISES,
            ["统一社会信用代码", "企业名称", "法定代表人", "注册地址", "登记状态"],
            {"code": 0, "name": 1, "legal_person": 2, "address": 3, "status": 4},
            [],
        ),
        (ENTERPRISES, ["信用代码", "名称", "住所"], {"code": 0, "name": 1, "address": 2}, []),
        (
            GRIDS,
            ["网格编码", "网格名称", "街道", "区"],
            {"code": 0, "name": 1, "street": 2, "district": 3},
            [],
        ),
        (
            GRIDS,
            ["网格编码", "网格名称", "所属街道", "负责人"],
            {"code": 0, "name": 1, "street": 2},
            [("负责人", "unknown_column"), ("区", "missing_column")],
        ),
    ],
)
def test_map_header(
    spec: DatasetSpec, header: list[str], positions: dict[str, int], rules: list[tuple[str, str]]
) -> None:
    mapped, problems = map_header(spec, header)
    assert mapped.positions == positions
    assert [(p.column, p.rule) for p in problems] == rules
    assert all(p.row == 1 and p.message for p in problems)
    assert {f: header[i] for f, i in positions.items()} == mapped.headers


@pytest.mark.parametrize("spec", list(SPECS.values()), ids=list(SPECS))
def test_header_names_are_unambiguous(spec: DatasetSpec) -> None:
    names = [normalize_header(n) for c in spec.columns for n in c.names()]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("spec", "field", "length"),
    [
        (DEPARTMENTS, "code", 64),
        (DEPARTMENTS, "name", 128),
        (DEPARTMENTS, "phone", 32),
        (DEPARTMENTS, "active", None),
        (HOLIDAYS, "name", 64),
        (ENTERPRISES, "address", 200),
        (ENTERPRISES, "status", 16),
        (GRIDS, "code", 32),
    ],
)
def test_max_length_from_schema(spec: DatasetSpec, field: str, length: int | None) -> None:
    assert spec.column(field).max_length == length


@pytest.mark.parametrize(
    ("name", "spec"),
    [
        ("departments", DEPARTMENTS),
        ("部门", DEPARTMENTS),
        (" Holidays ", HOLIDAYS),
        ("企业", ENTERPRISES),
        ("grids", GRIDS),
        ("网格", GRIDS),
        ("tickets", None),
    ],
)
def test_dataset_spec(name: str, spec: DatasetSpec | None) -> None:
    assert dataset_spec(name) is spec


@pytest.mark.parametrize(
    ("spec", "field", "raw", "value", "rule"),
    [
        (DEPARTMENTS, "code", " water ", "water", None),
        (DEPARTMENTS, "code", "water-supply.2_a", "water-supply.2_a", None),
        (DEPARTMENTS, "code", "", "", "required"),
        (DEPARTMENTS, "code", "水务", "水务", "code.format"),
        (DEPARTMENTS, "code", "water dept", "water dept", "code.format"),
        (DEPARTMENTS, "code", "w" * 65, "w" * 65, "max_length"),
        (DEPARTMENTS, "name", "\u3000市水务局\u3000", "市水务局", None),
        (DEPARTMENTS, "name", "   ", "", "required"),
        (DEPARTMENTS, "name", "局" * 128, "局" * 128, None),
        (DEPARTMENTS, "name", "局" * 129, "局" * 129, "max_length"),
        (DEPARTMENTS, "parent", "", "", None),
        (DEPARTMENTS, "phone", "", "", None),
        (DEPARTMENTS, "phone", "138 1234 5678", "13812345678", None),
        (DEPARTMENTS, "phone", "+86 13812345678", "13812345678", None),
        (DEPARTMENTS, "phone", "010-66112233", "010-66112233", None),
        (DEPARTMENTS, "phone", "12345", "12345", None),
        (DEPARTMENTS, "phone", "1381234567", "1381234567", "phone.format"),
        (DEPARTMENTS, "phone", "12345abc", "12345abc", "phone.format"),
        (DEPARTMENTS, "active", "", 1, None),
        (DEPARTMENTS, "active", "是", 1, None),
        (DEPARTMENTS, "active", "停用", 0, None),
        (DEPARTMENTS, "active", "TRUE", 1, None),
        (DEPARTMENTS, "active", "0", 0, None),
        (DEPARTMENTS, "active", "可能", "可能", "dictionary"),
        (HOLIDAYS, "day", "2026-10-01", "2026-10-01", None),
        (HOLIDAYS, "day", "2026/10/1", "2026-10-01", None),
        (HOLIDAYS, "day", "2026年10月1日", "2026-10-01", None),
        (HOLIDAYS, "day", "20261001", "2026-10-01", None),
        (HOLIDAYS, "day", "2026-02-30", "2026-02-30", "date.format"),
        (HOLIDAYS, "day", "10/01/2026", "10/01/2026", "date.format"),
        (HOLIDAYS, "day", "", "", "required"),
        (HOLIDAYS, "kind", "节假日", "holiday", None),
        (HOLIDAYS, "kind", "调休上班", "workday", None),
        (HOLIDAYS, "kind", "Holiday", "holiday", None),
        (HOLIDAYS, "kind", "补班", "补班", "dictionary"),
        (HOLIDAYS, "kind", "", "", "required"),
        (ENTERPRISES, "code", "91350100M000100Y43", "91350100M000100Y43", None),
        (ENTERPRISES, "code", "91350100m000100y43", "91350100M000100Y43", None),
        (ENTERPRISES, "code", "91350100M000100Y44", "91350100M000100Y44", "uscc.check"),
        (ENTERPRISES, "code", "91350100M000100Y4", "91350100M000100Y4", "uscc.check"),
        (ENTERPRISES, "status", "存续", "存续", None),
        (ENTERPRISES, "status", "", "", None),
        (ENTERPRISES, "status", "倒闭", "倒闭", "dictionary"),
        (ENTERPRISES, "address", "路" * 201, "路" * 201, "max_length"),
        (GRIDS, "street", "", "", "required"),
        (GRIDS, "district", "朝阳区", "朝阳区", None),
        (GRIDS, "district", " ", "", "required"),
    ],
)
def test_validate_cell(
    spec: DatasetSpec, field: str, raw: str, value: Value, rule: str | None
) -> None:
    stored, problem = validate_cell(spec.column(field), raw)
    assert stored == value
    assert (problem.rule if problem else None) == rule
    if problem is not None:
        assert problem.message


def test_phone_problem_does_not_show_the_number() -> None:
    _, problem = validate_cell(DEPARTMENTS.column("phone"), "1381234567")
    assert problem is not None
    assert "1381234567" not in problem.message


def _rows(*lines: list[str]) -> list[tuple[int, list[str]]]:
    return [(i + 2, line) for i, line in enumerate(lines)]


def test_validate_rows_duplicates_and_row_numbers() -> None:
    header, _ = map_header(GRIDS, ["网格名称", "网格编码", "街道", "所属区县"])
    result = validate_rows(
        GRIDS,
        header,
        _rows(
            ["一网格", "G1", "建外街道", "朝阳区"],
            ["二网格", "G2", "", "朝阳区"],
            ["重复", "G1", "建外街道", "朝阳区"],
            ["三网格", "G3", "建外街道"],
        ),
    )
    assert result.count == 4
    assert list(result.records) == ["G1"]
    assert result.rows == {"G1": 2, "G2": 3, "G3": 5}
    assert [(p.row, p.column, p.rule) for p in result.problems] == [
        (3, "街道", "required"),
        (4, "网格编码", "duplicate_key"),
        (5, "所属区县", "required"),
    ]
    assert "第 2 行" in result.problems[1].message


@pytest.mark.parametrize(
    ("lines", "stored", "expected"),
    [
        ([["gov", "政府", ""], ["water", "水务局", "gov"]], [], []),
        ([["water", "水务局", "gov"]], ["gov"], []),
        ([["water", "水务局", "gov"]], [], [(2, "上级部门", "unknown_parent")]),
        ([["water", "水务局", "water"]], [], [(2, "上级部门", "unknown_parent")]),
        # a row with another mistake still has its parent checked
        ([["water", "", "nowhere"]], ["gov"], [(2, "上级部门", "unknown_parent")]),
        ([["water", "水务局", "later"], ["later", "后面的部门", ""]], [], []),
    ],
)
def test_check_references(
    lines: list[list[str]], stored: list[str], expected: list[tuple[int, str, str]]
) -> None:
    header, _ = map_header(DEPARTMENTS, ["部门编码", "部门名称", "上级部门"])
    validated = validate_rows(DEPARTMENTS, header, _rows(*lines))
    problems = check_references(DEPARTMENTS, header, validated, stored)
    assert [(p.row, p.column, p.rule) for p in problems] == expected


def test_no_parent_column_no_reference_check() -> None:
    header, _ = map_header(DEPARTMENTS, ["部门编码", "部门名称"])
    validated = validate_rows(DEPARTMENTS, header, _rows(["water", "水务局"]))
    assert check_references(DEPARTMENTS, header, validated, []) == []


# --- reading bytes ---------------------------------------------------------------------------

GRID_CSV = "网格编码,网格名称,街道,区\nG1,一网格,建外街道,朝阳区\nG2,二网格,建外街道,朝阳区\n"


@pytest.mark.parametrize(
    "data",
    [
        GRID_CSV.encode("utf-8"),
        GRID_CSV.encode("utf-8-sig"),
        GRID_CSV.encode("gb18030"),
        GRID_CSV.replace("\n", "\r\n").encode("utf-8"),
        GRID_CSV.replace(",", "\t").encode("utf-8"),
        (GRID_CSV + ",,,\n\n,,,\n").encode("utf-8"),  # empty trailing rows
    ],
    ids=["utf8", "bom", "gb18030", "crlf", "tab", "trailing"],
)
def test_read_csv(data: bytes) -> None:
    table = read_table(GRIDS, "grids.csv", data)
    assert table.header == ["网格编码", "网格名称", "街道", "区"]
    assert table.header_row == 1
    assert [(n, r[:2]) for n, r in table.rows] == [(2, ["G1", "一网格"]), (3, ["G2", "二网格"])]


def test_decode_prefers_utf8() -> None:
    assert decode_text("部门".encode()) == "部门"
    assert decode_text("部门".encode("gb18030")) == "部门"


def test_blank_rows_keep_the_numbering() -> None:
    data = ("\n" + GRID_CSV.replace("G1,", "\nG1,")).encode()
    table = read_table(GRIDS, "grids.csv", data)
    assert table.header_row == 2
    assert [n for n, _ in table.rows] == [4, 5]


def _xlsx(rows: list[list[object]], title: str = "Sheet1") -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_read_xlsx_cells_as_text() -> None:
    data = _xlsx(
        [
            ["日期", "类型", "名称"],
            [datetime(2026, 10, 1), "节假日", "国庆节"],
            [date(2026, 9, 27), "调休上班", None],
            [None, None, None],
        ]
    )
    table = read_table(HOLIDAYS, "holidays.xlsx", data)
    assert table.rows == [
        (2, ["2026-10-01", "节假日", "国庆节"]),
        (3, ["2026-09-27", "调休上班"]),
    ]


def test_read_xlsx_prefers_the_sheet_named_for_the_dataset() -> None:
    book = Workbook()
    first = book.active
    assert first is not None
    first.append(["说明"])
    first.append(["本文件由区政务服务中心导出"])
    named = book.create_sheet("网格")
    named.append(["网格编码", "网格名称", "街道", "区"])
    named.append(["G1", "一网格", "建外街道", "朝阳区"])
    out = io.BytesIO()
    book.save(out)
    table = read_table(GRIDS, "grids.xlsx", out.getvalue())
    assert table.rows == [(2, ["G1", "一网格", "建外街道", "朝阳区"])]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        ("市水务局", "市水务局"),
        (13812345678, "13812345678"),
        (13812345678.0, "13812345678"),
        (1.5, "1.5"),
        (True, "true"),
        (datetime(2026, 10, 1), "2026-10-01"),
        (datetime(2026, 10, 1, 8, 30), "2026-10-01 08:30:00"),
        (date(2026, 10, 1), "2026-10-01"),
    ],
)
def test_cell_text(value: object, text: str) -> None:
    assert cell_text(value) == text


@pytest.mark.parametrize(
    ("name", "data", "rule"),
    [
        ("grids.csv", b"", "empty_file"),
        ("grids.csv", b"\n\r\n  \n", "empty_file"),
        ("grids.csv", b",,,\n,,\n", "empty_file"),
        ("grids.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "file_format"),
        ("grids.pdf", b"%PDF-1.4 something", "file_format"),
        ("grids.csv", b"\x00\x01\x02binary", "file_format"),
        ("grids.xlsx", b"PK\x03\x04 not really a zip", "file_format"),
        ("grids.csv", "G1,一网格,建外街道,朝阳区\n".encode(), "no_header"),
        ("grids.csv", b"\xff\xfe\xff\xfe\x81\x30", "encoding"),
    ],
)
def test_refused_files(name: str, data: bytes, rule: str) -> None:
    with pytest.raises(FileRefused) as refused:
        read_table(GRIDS, name, data)
    assert refused.value.problem == Problem(0, "", rule, refused.value.problem.message)
    assert refused.value.problem.message


def test_empty_xlsx_is_refused() -> None:
    with pytest.raises(FileRefused) as refused:
        read_table(GRIDS, "grids.xlsx", _xlsx([]))
    assert refused.value.problem.rule == "empty_file"


# --- the XLSX reader against openpyxl's ------------------------------------------------------

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"


def _excel_like(sheets: dict[str, str], date1904: bool = False) -> bytes:
    """A workbook as Excel writes it (shared strings, styles with date formats), unlike
    openpyxl's own files (inline strings): sheet name -> the <sheetData> content."""
    names = list(sheets)
    book_sheets = "".join(
        f'<sheet name="{n}" sheetId="{i + 1}" r:id="rId{i + 1}"/>' for i, n in enumerate(names)
    )
    rels = "".join(
        f'<Relationship Id="rId{i + 1}" Type="{_REL}/worksheet" '
        f'Target="worksheets/sheet{i + 1}.xml"/>'
        for i in range(len(names))
    )
    n = len(names)
    rels += (
        f'<Relationship Id="rId{n + 1}" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
        f'<Relationship Id="rId{n + 2}" Type="{_REL}/styles" Target="/xl/styles.xml"/>'
    )
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(n)
    )
    ct = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{ct}.sheet.main+xml"/>'
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{ct}.sharedStrings+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{ct}.styles+xml"/>'
            f"{overrides}</Types>"
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{_PKG}"><Relationship Id="rId1" '
            f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}">'
            f'<workbookPr date1904="{int(date1904)}"/><sheets>{book_sheets}</sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{_PKG}">{rels}</Relationships>',
        "xl/sharedStrings.xml": (
            f'<sst xmlns="{_MAIN}" count="6" uniqueCount="6">'
            "<si><t>日期</t></si><si><t>类型</t></si><si><t>名称</t></si>"
            "<si><t>节假日</t></si>"
            '<si><r><rPr><b/></rPr><t>国庆</t></r><r><t xml:space="preserve">节 </t></r>'
            '<rPh sb="0" eb="2"><t>グオチン</t></rPh></si>'
            "<si><t>调休上班</t></si></sst>"
        ),
        "xl/styles.xml": (
            f'<styleSheet xmlns="{_MAIN}"><numFmts count="2">'
            '<numFmt numFmtId="176" formatCode="yyyy&quot;年&quot;m&quot;月&quot;d&quot;日&quot;"/>'
            '<numFmt numFmtId="177" formatCode="0.00"/></numFmts>'
            '<fonts count="1"><font/></fonts>'
            '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
            '<borders count="1"><border/></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0"/></cellStyleXfs><cellXfs count="5">'
            '<xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/>'
            '<xf numFmtId="176" applyNumberFormat="1"/><xf numFmtId="177" applyNumberFormat="1"/>'
            '<xf numFmtId="22" applyNumberFormat="1"/></cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
            "</styleSheet>"
        ),
    }
    for i, name in enumerate(names):
        parts[f"xl/worksheets/sheet{i + 1}.xml"] = (
            f'<worksheet xmlns="{_MAIN}"><sheetData>{sheets[name]}</sheetData></worksheet>'
        )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for part, xml in parts.items():
            z.writestr(part, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + xml)
    return out.getvalue()


HOLIDAY_SHEET = (
    '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>'
    '<c r="C1" t="s"><v>2</v></c></row>'
    '<row r="2"><c r="A2" s="1"><v>46296</v></c><c r="B2" t="s"><v>3</v></c>'
    '<c r="C2" t="s"><v>4</v></c></row>'
    '<row r="4"><c r="A4" s="2"><v>46292</v></c><c r="B4" t="s"><v>5</v></c></row>'
    '<row r="5"><c r="A5" s="4"><v>46292.5</v></c><c r="C5" t="str"><f>B2</f><v>节</v></c></row>'
    '<row r="6"><c r="A6" s="3"><v>12.5</v></c><c r="B6" t="b"><v>0</v></c>'
    '<c r="C6" t="e"><v>#N/A</v></c></row>'
    '<row r="7"><c r="B7"><v>13812345678</v></c><c r="C7" t="inlineStr"><is><t>行内</t></is></c>'
    "</row>"
)


def _openpyxl_rows(data: bytes, sheet: str) -> list[tuple[int, list[str]]]:
    book = load_workbook(io.BytesIO(data), data_only=True)
    rows: list[tuple[int, list[str]]] = []
    for number, values in enumerate(book[sheet].iter_rows(values_only=True), start=1):
        cells = [cell_text(v) for v in values]
        while cells and not cells[-1]:
            cells.pop()
        if cells:
            rows.append((number, cells))
    return rows


@pytest.mark.parametrize("date1904", [False, True])
def test_xlsx_reader_agrees_with_openpyxl(date1904: bool) -> None:
    data = _excel_like(
        {"说明": '<row r="1"><c r="A1" t="s"><v>2</v></c></row>', "节假日": HOLIDAY_SHEET}, date1904
    )
    table = read_table(HOLIDAYS, "holidays.xlsx", data)  # the sheet named for the data set
    mine = [(table.header_row, table.header), *table.rows]
    assert mine == _openpyxl_rows(data, "节假日")
    day = "2030-10-02" if date1904 else "2026-10-01"
    assert table.rows[0] == (2, [day, "节假日", "国庆节 "])
    assert [n for n, _ in table.rows] == [2, 4, 5, 6, 7]
    assert table.rows[-1] == (7, ["", "13812345678", "行内"])


def test_xlsx_first_sheet_when_none_is_named_for_the_dataset() -> None:
    data = _excel_like({"Sheet1": HOLIDAY_SHEET, "Sheet2": ""})
    assert read_table(HOLIDAYS, "h.xlsx", data).header == ["日期", "类型", "名称"]


@pytest.mark.parametrize("rows", [0, 1, 3])
def test_openpyxl_written_files_read_alike(rows: int) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["日期", "类型", "名称", None, "备注"])
    for i in range(rows):
        sheet.append([datetime(2026, 10, 1 + i), "节假日", f"第{i}天", None, 1.25 * i])
    sheet.append([None, None, None, None, "=1+1"])
    out = io.BytesIO()
    book.save(out)
    data = out.getvalue()
    table = read_table(HOLIDAYS, "h.xlsx", data)
    mine = [(table.header_row, table.header), *table.rows]
    assert mine == _openpyxl_rows(data, sheet.title)
