"""The data resource catalogue on the live schema (SQLite and PostgreSQL): it covers every
table, refuses drift, and exports to JSON, XLSX and text."""

from __future__ import annotations

import json
import shutil
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from callcenter.data.catalog import (
    FIELDS_HEADER,
    FIELDS_SHEET,
    SUMMARY_HEADER,
    SUMMARY_SHEET,
    Catalog,
    build_catalog,
    export_watermark,
    field_grade,
    from_json,
    load_annotations,
    to_json,
    to_text,
    write_xlsx,
)
from callcenter.data.grades import Grade, Kind
from callcenter.storage.database import Database
from callcenter.storage.schema import AgentStatusRecord, Base
from callcenter.tomlreader import ConfigErrors

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"
CATALOG = CONFIG / "catalog.toml"


def _catalog(database: Database, **kwargs: int) -> Catalog:
    database.upgrade()
    return build_catalog(database.engine, CATALOG, CONFIG, **kwargs)


def _drift(database: Database, annotations: Path = CATALOG, config: Path = CONFIG) -> set[str]:
    with pytest.raises(ConfigErrors) as info:
        build_catalog(database.engine, annotations, config)
    assert all(e.file == "config/catalog.toml" for e in info.value.errors)
    return {e.key for e in info.value.errors}


def test_catalogue_covers_every_table_and_config_dataset(database: Database) -> None:
    catalog = _catalog(database)
    tables = {d.name for d in catalog.datasets if d.is_table}
    assert tables == set(Base.metadata.tables)
    for name in Base.metadata.tables:
        live = {c.name for c in Base.metadata.tables[name].columns}
        assert {f.name for f in catalog.dataset(name).fields} == live, name
    counts = {}
    for file, key in (
        ("knowledge.toml", "topic"),
        ("agents.toml", "agent"),
        ("departments.toml", "department"),
    ):
        with (CONFIG / file).open("rb") as f:
            counts[key] = len(tomllib.load(f)[key])
    assert catalog.dataset("knowledge_topics").rows == counts["topic"]
    assert catalog.dataset("agents").rows == counts["agent"]
    assert catalog.dataset("departments").rows == counts["department"]
    assert catalog.dataset("agents").location == "config/agents.toml [[agent]]"
    assert catalog.dialect == database.engine.dialect.name


def test_reflected_structure_and_grades(database: Database) -> None:
    catalog = _catalog(database)
    tickets = catalog.dataset("tickets")
    assert tickets.title == "工单"
    assert tickets.grade is Grade.CORE
    by_name = {f.name: f for f in tickets.fields}
    assert by_name["id"].primary_key and not by_name["id"].nullable
    assert by_name["deadline"].nullable and not by_name["deadline"].primary_key
    assert by_name["caller_number"].type == "TEXT"  # ciphertext (GB/T 44192 8.2)
    assert by_name["caller_number_hash"].kind is Kind.SECRET
    assert by_name["caller_number"].kind is Kind.PHONE
    assert field_grade(catalog, "tickets", "id_card") is Grade.CORE
    indexes = {i.name: i for i in tickets.indexes}
    assert indexes["ix_tickets_caller_hash"].columns == ("caller_number_hash", "created_at")
    assert catalog.dataset("calls").grade is Grade.SENSITIVE
    assert catalog.dataset("ref_holidays").grade is Grade.INTERNAL


def test_row_counts_are_exact_on_small_tables(database: Database) -> None:
    database.upgrade()
    database.transaction(
        lambda s: s.add_all(
            [
                AgentStatusRecord(agent_id=str(n), status="ready", reason="", updated_at=1.0)
                for n in range(3)
            ]
        )
    )
    catalog = build_catalog(database.engine, CATALOG, CONFIG)
    status = catalog.dataset("agent_status")
    assert (status.rows, status.rows_estimated) == (3, False)
    assert (catalog.dataset("calls").rows, catalog.dataset("calls").rows_estimated) == (0, False)


def test_big_postgresql_tables_use_the_planner_estimate(database: Database) -> None:
    database.upgrade()
    database.transaction(
        lambda s: s.add_all(
            [
                AgentStatusRecord(agent_id=str(n), status="ready", reason="", updated_at=1.0)
                for n in range(5)
            ]
        )
    )
    postgres = database.engine.dialect.name == "postgresql"
    if postgres:
        with database.engine.begin() as conn:
            conn.execute(text("ANALYZE agent_status"))
    # every analysed table counts as big here
    catalog = build_catalog(database.engine, CATALOG, CONFIG, exact_count_below=1)
    status = catalog.dataset("agent_status")
    assert status.rows == 5
    assert status.rows_estimated is postgres  # SQLite has no estimate: always exact
    assert "约 5" in to_text(catalog) if postgres else "约 5" not in to_text(catalog)


def test_a_new_table_without_annotations_is_refused(database: Database) -> None:
    database.upgrade()
    with database.engine.begin() as conn:
        conn.execute(text("CREATE TABLE complaints_extra (id INTEGER PRIMARY KEY, note TEXT)"))
        conn.execute(text("ALTER TABLE tickets ADD COLUMN mood TEXT"))
    keys = _drift(database)
    assert keys == {"table.complaints_extra", "table.tickets.columns.mood"}


def test_annotations_of_missing_tables_and_columns_are_refused(
    database: Database, tmp_path: Path
) -> None:
    database.upgrade()
    notes = tmp_path / "config" / "catalog.toml"
    notes.parent.mkdir()
    text_ = CATALOG.read_text(encoding="utf-8")
    text_ = text_.replace(
        "[table.calls.columns]\n",
        '[table.calls.columns]\nmood = { meaning = "情绪", grade = "internal" }\n',
    )
    text_ += (
        '\n[table.ghost]\ntitle = "幽灵"\ndataset = "测试"\nowner = "无"\nfrequency = "无"\n'
        'description = "不存在的表"\n[table.ghost.columns]\n'
        'id = { meaning = "序号", grade = "internal" }\n'
    )
    notes.write_text(text_, encoding="utf-8")
    assert _drift(database, notes) == {"table.ghost", "table.calls.columns.mood"}


def test_config_dataset_drift_is_refused(database: Database, tmp_path: Path) -> None:
    database.upgrade()
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    agents = config / "agents.toml"
    agents.write_text(
        agents.read_text(encoding="utf-8").replace(
            'id = "1001"\n', 'id = "1001"\nemail = "a@example.org"\n', 1
        ),
        encoding="utf-8",
    )
    (config / "departments.toml").unlink()
    where = {n.name: n.where for n in load_annotations(CATALOG).configs}
    assert _drift(database, CATALOG, config) == {
        f"{where['agents']}.fields.email",
        f"{where['departments']}.file",
    }


def test_json_round_trips(database: Database) -> None:
    catalog = _catalog(database)
    at = datetime(2026, 11, 24, 9, 30, 5, tzinfo=UTC)
    document = to_json(catalog, "数据办", at)
    assert "来电记录" in document  # UTF-8, not \\u escapes
    assert from_json(document) == catalog
    doc = json.loads(document)
    # stamped like the XLSX export: who and when, and the watermark's own words
    assert list(doc)[:3] == ["exported_by", "exported_at", "watermark"]
    assert doc["exported_by"] == "数据办" and doc["exported_at"] == "2026-11-24T09:30:05+00:00"
    assert doc["watermark"] == "导出人 数据办，时间 2026-11-24 09:30:05"
    tickets = next(d for d in doc["datasets"] if d["name"] == "tickets")
    assert tickets["grade"] == "core"
    assert {"name": "caller_number", "grade": "sensitive", "kind": "phone"}.items() <= next(
        f for f in tickets["fields"] if f["name"] == "caller_number"
    ).items()


def test_xlsx_has_both_sheets_the_watermark_and_the_cells(
    database: Database, tmp_path: Path
) -> None:
    catalog = _catalog(database)
    watermark = export_watermark("sec01", datetime(2026, 3, 1, 9, 30, 5))
    assert watermark == "导出人 sec01，时间 2026-03-01 09:30:05"
    path = tmp_path / "catalog.xlsx"
    write_xlsx(catalog, path, watermark)
    wb = load_workbook(path)
    assert wb.sheetnames == [SUMMARY_SHEET, FIELDS_SHEET]
    assert wb.properties.description == watermark
    for ws in wb.worksheets:
        assert ws["A1"].value == watermark
        assert ws.oddHeader.center.text == watermark
    summary = wb[SUMMARY_SHEET]
    assert [c.value for c in summary[2]] == list(SUMMARY_HEADER)
    rows = {r[1]: r for r in summary.iter_rows(min_row=3, values_only=True)}
    assert len(rows) == len(catalog.datasets)
    tickets = rows["tickets"]
    assert tickets[0] == "工单"
    assert tickets[5] == len(catalog.dataset("tickets").fields)
    assert tickets[6] == 0
    assert tickets[8] == "核心"
    assert rows["config/agents.toml [[agent]]"][0] == "坐席名册"
    fields = wb[FIELDS_SHEET]
    assert [c.value for c in fields[2]] == list(FIELDS_HEADER)
    found = [
        r
        for r in fields.iter_rows(min_row=3, values_only=True)
        if r[0] == "工单" and r[1] == "caller_number"
    ]
    assert len(found) == 1
    meaning = "诉求人电话（库内为密文，解密后按角色显示）"
    assert found[0][3:7] == (meaning, "敏感个人信息", "否", None)
    assert fields.max_row == 2 + sum(len(d.fields) for d in catalog.datasets)


def test_text_listing(database: Database) -> None:
    listing = to_text(_catalog(database))
    assert "[工单] 工单（tickets）" in listing
    assert "caller_number" in listing and "敏感个人信息/电话号码" in listing
    assert "[坐席] 坐席名册（config/agents.toml [[agent]]）" in listing
