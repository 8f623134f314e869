"""`callcenter data synth`: generate a year and load it, writing the ground truth."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from callcenter.config import ConfigErrors, load_config
from callcenter.data.crypto import (
    FILE_ENV,
    FieldCipher,
    KeyConfigError,
    load_cipher,
    write_key_file,
)
from callcenter.storage.database import Database
from callcenter.synthetic.load import NotEmpty, load
from callcenter.synthetic.truth import TruthWriter
from callcenter.synthetic.year import RULES, Year, YearSpec
from callcenter.tickets.settings import load_ticket_settings

KEY_FILE = "keys.toml"


def holiday_names(config_dir: Path) -> dict[date, str]:
    """Each holiday day's festival from the ticket calendar (the published days and
    tickets.toml's, which win; validated before by load_ticket_settings)."""
    return dict(load_ticket_settings(config_dir).calendar.days.festivals)


def cipher_for(truth_dir: Path) -> tuple[FieldCipher, str]:
    """The configured cipher; without keys, a new key file in the truth directory (a sandbox
    or benchmark), with the notice to show."""
    try:
        return load_cipher(), ""
    except KeyConfigError:
        path = truth_dir / KEY_FILE
        if not path.exists():
            write_key_file(path)
        notice = f"未配置数据加密密钥：已生成 {path}，后续命令请设置 {FILE_ENV}={path}"
        return load_cipher({FILE_ENV: str(path)}), notice


def main_synth(
    db_url: str,
    tickets: int,
    seed: int,
    start: date,
    truth_dir: Path,
    config_dir: Path,
    defect_rate: float,
) -> int:
    """Generate `tickets` tickets of a year from `start` into the (empty) database at
    `db_url`; ground truth into `truth_dir`. Returns the exit code."""
    try:
        settings = load_ticket_settings(config_dir)
        numbers = load_config(config_dir).numbers
    except ConfigErrors as exc:
        print(f"配置错误：{exc}", file=sys.stderr)
        return 2
    try:
        spec = YearSpec(tickets=tickets, seed=seed, start=start, defect_rate=defect_rate)
        truth_dir.mkdir(parents=True, exist_ok=True)
        cipher, notice = cipher_for(truth_dir)
        if notice:
            print(notice, file=sys.stderr)
        started = time.monotonic()
        year = Year(spec, settings, numbers, cipher, holiday_names(config_dir))
    except (ValueError, KeyConfigError) as exc:
        print(f"参数错误：{exc}", file=sys.stderr)
        return 2
    db = Database(db_url)
    writer = TruthWriter(truth_dir)
    try:
        db.upgrade()
        stats = load(db, year, writer, progress=_progress(tickets))
    except NotEmpty as exc:
        writer.abort()
        print(f"无法装载：{exc}", file=sys.stderr)
        return 1
    finally:
        db.close()
    seconds = time.monotonic() - started
    writer.finish(
        [e.truth(year.zone) for e in year.events],
        {
            "seed": seed,
            "tickets": tickets,
            "start": start.isoformat(),
            "days": spec.days,
            "defect_rate": defect_rate,
            "counts": stats.rows,
            "defects": {rule: year.defect_counts[rule] for rule in RULES},
            "defects_unplaced": year.unpaid(),
            "events": {
                "surge": sum(1 for e in year.events if e.kind == "surge"),
                "cluster": sum(1 for e in year.events if e.kind == "cluster"),
            },
            "generation_seconds": round(seconds, 2),
            "load_seconds": round(stats.seconds, 2),
            "rows_per_second": round(stats.rows_per_second),
            "tickets_per_second": round(stats.tickets_per_second),
        },
    )
    print(
        f"已生成 {stats.rows['tickets']} 张工单、{stats.rows['ticket_history']} 条流转记录、"
        f"{stats.rows['calls']} 通来电，注入缺陷 {sum(year.defect_counts.values())} 个，"
        f"用时 {seconds:.1f} 秒（{stats.tickets_per_second:.0f} 单/秒）；真值见 {truth_dir}"
    )
    return 0


def _progress(total: int) -> Callable[[int], None]:
    step = max(50_000, total // 20)
    mark = [step]

    def report(done: int) -> None:
        if done >= mark[0]:
            print(f"  … {done}/{total}", file=sys.stderr, flush=True)
            mark[0] += step

    return report
