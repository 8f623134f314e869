"""Reference data imports on SQLite and PostgreSQL: good CSV and XLSX files of every data
set import, a file with any mistake imports nothing and names each row, column and rule,
a dry run writes only its run record, GB18030 files, upsert and replace, re-imports."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from callcenter.data.import_specs import SPECS
from callcenter.data.imports import (
    ImportReport,
    ImportRequestError,
    import_file,
    main_import,
    render_report,
)
from callcenter.storage.database import Database
from callcenter.storage.schema import ImportRun, RefDepartment, RefEnterprise, RefGrid, RefHoliday

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "imports"
DATASETS = ["departments", "holidays", "enterprises", "grids"]


@pytest.fixture
def db(database: Database) -> Database:
    database.upgrade()
    return database


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def as_xlsx(csv_bytes: bytes, sheet: str = "Sheet1") -> bytes:
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.title = sheet
    for row in csv.reader(io.StringIO(csv_bytes.decode("utf-8-sig"))):
        ws.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def table_rows(db: Database, dataset: str) -> dict[str, dict[str, Any]]:
    table = SPECS[dataset].table.__table__
    key = SPECS[dataset].key
    with db.session() as s:
        return {str(r[key]): dict(r) for r in s.execute(select(table)).mappings()}


def runs(db: Database) -> list[ImportRun]:
    with db.session() as s:
        return list(s.scalars(select(ImportRun).order_by(ImportRun.id)))


def run_import(db: Database, dataset: str, name: str, data: bytes, **kw: Any) -> ImportReport:
    return import_file(db, dataset, name, data, "数据办-张三", **kw)


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_good_file_imports(db: Database, dataset: str, fmt: str) -> None:
    data = sample(f"{dataset}_good.csv")
    lines = len(data.decode().strip().splitlines()) - 1
    if fmt == "xlsx":
        data = as_xlsx(data)
    report = run_import(db, dataset, f"{dataset}.{fmt}", data)
    assert report.errors == [], render_report(report)
    assert (report.state, report.rows, report.inserted, report.updated) == (
        "imported",
        lines,
        lines,
        0,
    )
    rows = table_rows(db, dataset)
    assert len(rows) == lines
    assert {r["import_id"] for r in rows.values()} == {report.import_id}
    [run] = runs(db)
    assert run.id == report.import_id
    assert (run.dataset, run.state, run.rows, run.dry_run) == (dataset, "imported", lines, 0)
    assert run.actor == "数据办-张三"
    assert run.file_name == f"{dataset}.{fmt}"
    assert len(run.sha256) == 64 and run.sha256 == report.sha256
    assert json.loads(run.report) == report.to_dict()


def test_imported_values(db: Database) -> None:
    run_import(db, "departments", "d.csv", sample("departments_good.csv"))
    rows = table_rows(db, "departments")
    assert rows["water-supply"]["parent"] == "water"
    assert rows["water-supply"]["phone"] == "13812345678"
    assert rows["water"]["function"] == "水务"
    assert rows["transport"]["active"] == 0
    assert rows["gov"]["active"] == 1
    run_import(db, "holidays", "h.csv", sample("holidays_good.csv"))
    holidays = table_rows(db, "holidays")
    assert holidays["2026-10-01"]["kind"] == "holiday"  # written 2026/10/1
    assert holidays["2026-09-27"]["kind"] == "workday"  # written 2026年9月27日


BAD_FILES = {
    "departments": [
        (3, "部门名称", "required"),
        (4, "部门编码", "code.format"),
        (5, "联系电话", "phone.format"),
        (5, "上级部门", "unknown_parent"),
        (6, "部门编码", "duplicate_key"),
        (7, "是否启用", "dictionary"),
        (8, "部门名称", "max_length"),
    ],
    "holidays": [
        (3, "日期", "date.format"),
        (4, "类型", "dictionary"),
        (5, "日期", "required"),
        (6, "日期", "duplicate_key"),
    ],
    "enterprises": [
        (3, "统一社会信用代码", "uscc.check"),
        (4, "统一社会信用代码", "uscc.check"),
        (5, "企业名称", "required"),
        (5, "登记状态", "dictionary"),
    ],
    "grids": [
        (1, "负责人", "unknown_column"),
        (1, "区", "missing_column"),
        (3, "街道", "required"),
    ],
}


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_bad_file_imports_nothing(db: Database, dataset: str, fmt: str) -> None:
    run_import(db, dataset, "good.csv", sample(f"{dataset}_good.csv"))
    before = table_rows(db, dataset)
    data = sample(f"{dataset}_bad.csv")
    if fmt == "xlsx":
        data = as_xlsx(data)
    report = run_import(db, dataset, f"bad.{fmt}", data)
    assert report.state == "rejected"
    assert [(e.row, e.column, e.rule) for e in report.errors] == BAD_FILES[dataset]
    assert all(e.message for e in report.errors)
    assert report.error_count == len(report.errors)
    assert (report.inserted, report.updated, report.deleted) == (0, 0, 0)
    assert table_rows(db, dataset) == before
    run = runs(db)[-1]
    assert (run.state, run.dry_run, run.id) == ("rejected", 0, report.import_id)
    stored = json.loads(run.report)
    assert [(e["row"], e["column"], e["rule"]) for e in stored["errors"]] == BAD_FILES[dataset]
    text = render_report(report)
    for row, column, rule in BAD_FILES[dataset]:
        assert f"第 {row} 行「{column}」列 [{rule}]" in text


def test_one_bad_row_among_many_imports_nothing(db: Database) -> None:
    lines = ["网格编码,网格名称,街道,区"]
    lines += [f"G{i:05d},第{i}网格,建外街道,朝阳区" for i in range(2000)]
    lines[1500] = "G01499,第1499网格,建外街道,"
    report = run_import(db, "grids", "grids.csv", "\n".join(lines).encode())
    assert [(e.row, e.column, e.rule) for e in report.errors] == [(1501, "区", "required")]
    assert table_rows(db, "grids") == {}


def test_phone_numbers_are_masked_in_the_report(db: Database) -> None:
    data = "部门编码,部门名称,联系电话\nwater,水务局,1381234567\n".encode()
    report = run_import(db, "departments", "d.csv", data)
    assert report.errors[0].rule == "phone.format"
    assert "1381234567" not in runs(db)[-1].report


def test_dry_run_writes_only_the_run_record(db: Database) -> None:
    run_import(db, "departments", "d.csv", sample("departments_good.csv"))
    changed = sample("departments_good.csv").decode().replace("市水务局", "市水务管理局")
    changed += "culture,市文化和旅游局,gov,文化旅游,,12318,是\n"
    report = run_import(db, "departments", "d2.csv", changed.encode(), dry_run=True, mode="replace")
    assert (report.state, report.inserted, report.updated, report.unchanged, report.deleted) == (
        "checked",
        1,
        1,
        4,
        0,
    )
    rows = table_rows(db, "departments")
    assert rows["water"]["name"] == "市水务局"
    assert "culture" not in rows
    first, second = runs(db)
    assert (second.state, second.dry_run, second.id) == ("checked", 1, report.import_id)
    assert {r["import_id"] for r in rows.values()} == {first.id}


def test_dry_run_of_a_bad_file_is_rejected(db: Database) -> None:
    report = run_import(db, "holidays", "h.csv", sample("holidays_bad.csv"), dry_run=True)
    assert report.state == "rejected"
    assert [(r.state, r.dry_run) for r in runs(db)] == [("rejected", 1)]


def test_gb18030_csv(db: Database) -> None:
    data = sample("departments_good.csv").decode().encode("gb18030")
    report = run_import(db, "departments", "部门目录.csv", data)
    assert (report.state, report.inserted) == ("imported", 5)
    assert table_rows(db, "departments")["housing"]["name"] == "市住房和城乡建设委员会"


def test_upsert_updates_changed_rows(db: Database) -> None:
    first = run_import(db, "grids", "g.csv", sample("grids_good.csv"))
    text = sample("grids_good.csv").decode()
    text = text.replace("建外街道第二网格", "建外街道第二网格（调整）")
    text += "HD-ZGC-002,中关村街道第二网格,中关村街道,海淀区\n"
    second = run_import(db, "grids", "g2.csv", text.encode())
    assert (second.inserted, second.updated, second.unchanged, second.deleted) == (1, 1, 3, 0)
    rows = table_rows(db, "grids")
    assert rows["CY-JW-002"]["name"] == "建外街道第二网格（调整）"
    assert rows["CY-JW-002"]["import_id"] == second.import_id
    assert rows["HD-ZGC-002"]["import_id"] == second.import_id
    assert rows["CY-JW-001"]["import_id"] == first.import_id  # unchanged rows keep theirs
    assert len(rows) == 5


def test_upsert_keeps_columns_the_file_does_not_have(db: Database) -> None:
    run_import(db, "departments", "d.csv", sample("departments_good.csv"))
    data = "部门编码,部门名称\nwater,市水务管理局\nculture,市文化和旅游局\n".encode()
    report = run_import(db, "departments", "names.csv", data)
    assert (report.inserted, report.updated, report.unchanged) == (1, 1, 0)
    rows = table_rows(db, "departments")
    assert (rows["water"]["name"], rows["water"]["phone"]) == ("市水务管理局", "010-66112233")
    assert (rows["culture"]["phone"], rows["culture"]["active"]) == ("", 1)


def test_replace_deletes_rows_not_in_the_file(db: Database) -> None:
    run_import(db, "holidays", "h.csv", sample("holidays_good.csv"))
    data = "日期,类型,名称\n2026-01-01,节假日,元旦\n2026-10-01,节假日,国庆节\n".encode()
    report = run_import(db, "holidays", "h2.csv", data, mode="replace")
    assert (report.unchanged, report.deleted) == (2, 4)
    assert sorted(report.deleted_keys) == ["2026-02-14", "2026-02-15", "2026-02-16", "2026-09-27"]
    assert sorted(table_rows(db, "holidays")) == ["2026-01-01", "2026-10-01"]
    assert "删除 deleted: 4" in render_report(report)


def test_replace_deactivates_departments(db: Database) -> None:
    run_import(db, "departments", "d.csv", sample("departments_good.csv"))
    data = "部门编码,部门名称,上级部门\ngov,市人民政府,\nwater,市水务局,gov\n".encode()
    report = run_import(db, "departments", "d2.csv", data, mode="replace")
    # transport was already inactive: only the two active ones are reported
    assert (report.deleted, sorted(report.deleted_keys)) == (2, ["housing", "water-supply"])
    rows = table_rows(db, "departments")
    assert len(rows) == 5
    assert {k for k, r in rows.items() if r["active"] == 1} == {"gov", "water"}
    assert rows["housing"]["import_id"] == report.import_id
    again = run_import(db, "departments", "d2.csv", data, mode="replace")
    assert (again.deleted, again.unchanged) == (0, 2)


def test_parent_may_be_an_existing_department(db: Database) -> None:
    run_import(db, "departments", "d.csv", sample("departments_good.csv"))
    data = "部门编码,部门名称,上级部门\nwater-quality,水质监测站,water\n".encode()
    assert run_import(db, "departments", "d2.csv", data).state == "imported"
    bad = "部门编码,部门名称,上级部门\nx,某站,nowhere\n".encode()
    report = run_import(db, "departments", "d3.csv", bad)
    assert [(e.row, e.column, e.rule) for e in report.errors] == [(2, "上级部门", "unknown_parent")]


@pytest.mark.parametrize("dataset", DATASETS)
def test_reimport_reports_all_unchanged(db: Database, dataset: str) -> None:
    data = sample(f"{dataset}_good.csv")
    first = run_import(db, dataset, "a.csv", data)
    second = run_import(db, dataset, "a.xlsx", as_xlsx(data, sheet=dataset))
    assert (second.state, second.inserted, second.updated, second.deleted) == ("imported", 0, 0, 0)
    assert second.unchanged == first.inserted
    third = run_import(db, dataset, "a.csv", data, mode="replace")
    assert (third.unchanged, third.deleted) == (first.inserted, 0)


@pytest.mark.parametrize(
    ("name", "data", "rule"),
    [
        ("grids.csv", b"", "empty_file"),
        ("grids.pdf", b"%PDF-1.4", "file_format"),
        ("grids.csv", "G1,一网格,建外街道,朝阳区\n".encode(), "no_header"),
    ],
)
def test_unreadable_file_gives_one_error(db: Database, name: str, data: bytes, rule: str) -> None:
    report = run_import(db, "grids", name, data)
    assert [(e.row, e.column, e.rule) for e in report.errors] == [(0, "", rule)]
    assert [r.state for r in runs(db)] == ["rejected"]


def test_unknown_dataset_or_mode(db: Database) -> None:
    with pytest.raises(ImportRequestError):
        run_import(db, "tickets", "t.csv", b"a,b\n")
    with pytest.raises(ImportRequestError):
        run_import(db, "grids", "g.csv", sample("grids_good.csv"), mode="merge")
    assert runs(db) == []


def test_large_file(db: Database) -> None:
    lines = ["部门编码,部门名称,上级部门,联系电话,是否启用", "root,市人民政府,,12345,是"]
    lines += [f"d{i},第{i}办公室,root,0551-6{i % 10000000:07d},是" for i in range(20000)]
    data = ("\n".join(lines) + "\n").encode()
    report = run_import(db, "departments", "big.csv", data)
    assert (report.state, report.inserted) == ("imported", 20001)
    changed = data.replace("第7办公室".encode(), "第七办公室".encode())
    again = run_import(db, "departments", "big.csv", changed, mode="replace")
    assert (again.updated, again.unchanged, again.deleted) == (1, 20000, 0)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(RefDepartment)) == 20001


def test_main_import(db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = SAMPLES / "enterprises_good.csv"
    config = tmp_path / "config"
    assert main_import(config, db.url, "enterprises", good, True, "ops", "upsert") == 0
    assert "已校验" in capsys.readouterr().out
    assert main_import(config, db.url, "企业", good, False, "ops", "upsert") == 0
    assert "新增 inserted: 4" in capsys.readouterr().out
    bad = SAMPLES / "enterprises_bad.csv"
    assert main_import(config, db.url, "enterprises", bad, False, "ops", "upsert") == 1
    assert "[uscc.check]" in capsys.readouterr().out
    assert main_import(config, db.url, "tickets", good, False, "ops", "upsert") == 2
    assert "未知的数据集" in capsys.readouterr().err
    missing = tmp_path / "none.csv"
    assert main_import(config, db.url, "grids", missing, False, "ops", "upsert") == 2
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(RefEnterprise)) == 4
        assert s.scalar(select(func.count()).select_from(RefGrid)) == 0
        assert s.scalar(select(func.count()).select_from(RefHoliday)) == 0
    assert [r.state for r in runs(db)] == ["checked", "imported", "rejected"]
