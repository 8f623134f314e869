"""`callcenter data ...` end to end on SQLite and PostgreSQL: a synthetic year, a quality run
and its XLSX report, a correction, fusion, the catalogue, an import, retention, key rotation;
exports on record in the data access log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from callcenter.cli import main
from callcenter.data.crypto import FILE_ENV, load_cipher, write_key_file
from callcenter.storage.database import Database
from callcenter.storage.schema import DataAccess, DataCorrection, Profile, QualityIssue, Ticket

REPO = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], db: Database, *args: str) -> str:
    code = main(["data", "--db", db.url, "--actor", "数据办", *args])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def test_the_data_office_commands(
    database: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keys = tmp_path / "keys.toml"
    write_key_file(keys)
    monkeypatch.setenv(FILE_ENV, str(keys))
    out = run(capsys, database, "synth", "--tickets", "300", "--truth", str(tmp_path / "t"))
    assert "已生成 300 张工单" in out
    with database.engine.begin() as conn:  # a number typed wrong on ticket 7
        stored, index = load_cipher().seal_phone("1381234567a")  # stored encrypted, as always
        conn.execute(
            update(Ticket)
            .where(Ticket.id == 7)
            .values(caller_number=stored, caller_number_hash=index)
        )
    out = run(capsys, database, "quality", "run", "--mode", "full")
    assert "可访问性" in out and "检查记录 300 条" in out
    xlsx = tmp_path / "q.xlsx"
    run(capsys, database, "quality", "report", "--format", "xlsx", "--out", str(xlsx))
    assert "数据办" in str(load_workbook(xlsx).worksheets[0]["A1"].value)
    report_json = tmp_path / "q.json"
    run(capsys, database, "quality", "report", "--format", "json", "--out", str(report_json))
    stamped = json.loads(report_json.read_text(encoding="utf-8"))
    assert stamped["exported_by"] == "数据办" and stamped["records"] == 300
    assert stamped["watermark"].startswith("导出人 数据办，时间 ")
    printed = json.loads(run(capsys, database, "quality", "report", "--format", "json"))
    assert printed["exported_by"] == "数据办"
    with database.session() as s:
        issue = s.scalars(
            select(QualityIssue).where(
                QualityIssue.rule == "phone.format", QualityIssue.record_id == "7"
            )
        ).one()
    args = ("correct", "7", "caller_number", "13912345678", "--reason", "核实")
    assert "139****5678" in run(capsys, database, *args, "--issue", str(issue.id))
    with database.session() as s:
        assert s.scalars(select(DataCorrection.actor)).one() == "数据办"
    out = run(capsys, database, "fuse")
    assert "数据融合完成" in out
    with database.session() as s:
        assert s.scalars(select(Profile)).first() is not None
    catalog = tmp_path / "c.json"
    out = run(capsys, database, "catalog", "--json", str(catalog))
    assert "热线数据资源目录" in out and '"tickets"' in catalog.read_text(encoding="utf-8")
    stamped = json.loads(catalog.read_text(encoding="utf-8"))
    assert stamped["exported_by"] == "数据办"
    assert stamped["watermark"].startswith("导出人 数据办，时间 ")
    out = run(capsys, database, "import", "grids", str(REPO / "tests/data/imports/grids_good.csv"))
    assert "imported" in out or "新增" in out
    assert "将" in run(capsys, database, "retention", "--dry-run")
    # rotation leaves the synthetic year's planted undecryptable ID numbers alone, names them
    # and exits 1; with none planted it exits 0
    planted = sorted(
        int(d["record_id"])
        for line in (tmp_path / "t" / "defects.jsonl").read_text("utf-8").splitlines()
        if (d := json.loads(line))["rule"] == "access.undecryptable"
    )
    code = main(["data", "--db", database.url, "rotate-keys"])
    rotated = capsys.readouterr().out
    assert code == (1 if planted else 0), rotated
    assert f"无法解密（未改动）：{len(planted)} 条" in rotated
    if planted:
        assert f"无法解密的工单：{'、'.join(map(str, planted))}" in rotated
    with database.session() as s:
        query = select(DataAccess.dataset, DataAccess.purpose).where(DataAccess.action == "export")
        exports = s.execute(query.order_by(DataAccess.id)).all()
    assert [(d, p.split(" to ")[-1]) for d, p in exports] == [
        ("quality_issues", str(xlsx)),
        ("quality_issues", str(report_json)),
        ("quality_issues", "stdout"),
        ("catalog", f"{catalog}"),
    ]


def test_bad_import_exits_1_and_names_row_column_rule(
    database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "data",
            "--db",
            database.url,
            "import",
            "grids",
            str(REPO / "tests/data/imports/grids_bad.csv"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 1 and "第 3 行「街道」列 [required]" in out
