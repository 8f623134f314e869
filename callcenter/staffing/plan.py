"""A day's staffing curve and a week's plan (GB/T 44190 6.1.1.1, 6.1.3.1): per half hour the
forecast calls, the handle time, the agents needed by Erlang C and by Erlang A with the
service they are expected to give, and the seats to schedule after shrinkage."""

from __future__ import annotations

import csv
import math
import sys
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import Engine

from callcenter.staffing.erlang import Target, agents_erlang_a, agents_erlang_c
from callcenter.staffing.forecast import SLOTS, forecast_day
from callcenter.staffing.history import History, load_calendar, load_history
from callcenter.staffing.settings import StaffingSettings, load_staffing
from callcenter.storage.database import Database
from callcenter.tickets.settings import load_ticket_settings
from callcenter.tomlreader import ConfigErrors
from ivr.workdays import DayCalendar

SLOT_SECONDS = 1800.0
MIN_ANSWERED = 5


@dataclass(frozen=True)
class SlotPlan:
    start: str  # HH:MM local time
    calls: float
    aht: float
    agents_c: int
    sl_c: float
    asa_c: float
    agents_a: int
    sl_a: float
    abandon_a: float
    seats: int  # Erlang A agents / (1 - shrinkage), rounded up


@dataclass(frozen=True)
class DayPlan:
    day: date
    kind: str
    basis: str
    patience: float
    slots: tuple[SlotPlan, ...]

    @property
    def calls(self) -> float:
        return sum(s.calls for s in self.slots)

    @property
    def agent_hours_c(self) -> float:
        return sum(s.agents_c for s in self.slots) / 2

    @property
    def agent_hours_a(self) -> float:
        return sum(s.agents_a for s in self.slots) / 2

    @property
    def seat_hours(self) -> float:
        return sum(s.seats for s in self.slots) / 2

    @property
    def peak_seats(self) -> int:
        return max((s.seats for s in self.slots), default=0)


def slot_plan(
    start: str, calls: float, aht: float, patience: float, s: StaffingSettings
) -> SlotPlan:
    """One half hour: `calls` expected in it, `aht` seconds each."""
    rate = calls / SLOT_SECONDS
    c = agents_erlang_c(rate, aht, s.target) if calls > 0 else None
    a = agents_erlang_a(rate, aht, patience, s.target) if calls > 0 else None
    agents_a = a.agents if a else 0
    return SlotPlan(
        start=start,
        calls=calls,
        aht=aht,
        agents_c=c.agents if c else 0,
        sl_c=c.service_level if c else 1.0,
        asa_c=c.asa if c else 0.0,
        agents_a=agents_a,
        sl_a=a.service_level if a else 1.0,
        abandon_a=a.p_abandon if a else 0.0,
        seats=math.ceil(agents_a / (1 - s.shrinkage) - 1e-9),
    )


def _aht(history: History, days: list[date], slot: int, s: StaffingSettings) -> float:
    if s.aht == "history":
        mean, n = history.aht(days, slot)
        if n >= MIN_ANSWERED:
            return mean + s.wrapup_seconds
    return s.aht_seconds + s.wrapup_seconds


def plan_days(
    history: History, cal: DayCalendar, first: date, days: int, s: StaffingSettings
) -> list[DayPlan]:
    """Plans for `days` days from `first`, forecast from the history before `first`."""
    weeks = s.history_weeks
    past = [d for d in history.calls if d < first]
    sample = [d for d in past if (first - d).days <= 7 * weeks]
    patience = s.patience_seconds
    if s.patience == "history":
        patience = history.patience() or s.patience_seconds
    plans = []
    for k in range(days):
        day = first + timedelta(days=k)
        f = forecast_day(history.calls, cal, day, weeks)
        same = [d for d in sample if cal.weekday(d) == cal.weekday(day)]
        slots = tuple(
            slot_plan(
                f"{i // 2:02d}:{30 * (i % 2):02d}",
                f.calls[i],
                _aht(history, same, i, s),
                patience,
                s,
            )
            for i in range(SLOTS)
        )
        plans.append(DayPlan(day, f.kind, f.basis, patience, slots))
    return plans


def plan_from_store(
    engine: Engine, config_dir: Path, first: date, days: int, target: Target | None = None
) -> list[DayPlan]:
    """Read the settings, the calendar and a year of history, and plan (blocking: the API
    calls it in a worker thread)."""
    s = load_staffing(config_dir)
    if target is not None:
        s = replace(s, target=target)
    ticket_cal = load_ticket_settings(config_dir).calendar
    cal = load_calendar(engine, ticket_cal.days)
    history = load_history(engine, ticket_cal.zone, first - timedelta(days=400), first)
    return plan_days(history, cal, first, days, s)


KINDS = {"ordinary": "", "workday": "调休上班", "holiday": "节假日"}
HEAD = (
    "日期",
    "时段",
    "预测来电",
    "平均处理时长(秒)",
    "坐席数(Erlang C)",
    "服务水平(C)",
    "平均应答(秒,C)",
    "坐席数(Erlang A)",
    "服务水平(A)",
    "放弃率(A)",
    "排班席位(含缺勤)",
)


def rows(plans: list[DayPlan]) -> list[list[str | float | int]]:
    out: list[list[str | float | int]] = []
    for p in plans:
        for s in p.slots:
            out.append(
                [
                    p.day.isoformat(),
                    s.start,
                    round(s.calls, 1),
                    round(s.aht),
                    s.agents_c,
                    round(s.sl_c, 3),
                    round(s.asa_c, 1),
                    s.agents_a,
                    round(s.sl_a, 3),
                    round(s.abandon_a, 3),
                    s.seats,
                ]
            )
    return out


def write_out(plans: list[DayPlan], out: Path) -> None:
    if out.suffix.lower() == ".xlsx":
        wb = Workbook()
        ws = wb.active
        assert ws is not None
        ws.title = "坐席测算"
        ws.append(list(HEAD))
        for r in rows(plans):
            ws.append(r)
        week = wb.create_sheet("周计划")
        week.append(
            ["日期", "类型", "预测来电", "坐席工时(C)", "坐席工时(A)", "排班工时", "峰值席位"]
        )
        for p in plans:
            week.append(
                [
                    p.day.isoformat(),
                    KINDS[p.kind] or "工作日",
                    round(p.calls),
                    p.agent_hours_c,
                    p.agent_hours_a,
                    p.seat_hours,
                    p.peak_seats,
                ]
            )
        wb.save(out)
        return
    with out.open("w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(HEAD)
        w.writerows(rows(plans))


def print_plans(plans: list[DayPlan], target: Target) -> None:
    print(
        f"服务目标：{target.service_level:.0%} 来电 {target.within:g} 秒内接通；"
        f"顾客平均耐心 {plans[0].patience:.0f} 秒（Erlang A）"
        if plans
        else "无计划"
    )
    for p in plans:
        kind = KINDS[p.kind]
        print(f"\n{p.day.isoformat()} {'一二三四五六日'[p.day.weekday()]} {kind}  {p.basis}")
        print("时段   来电   处理秒  C坐席 C服务水平  A坐席 A服务水平 A放弃率  排班席位")
        for s in p.slots:
            if s.calls <= 0:
                continue
            print(
                f"{s.start}  {s.calls:5.1f}  {s.aht:6.0f}  {s.agents_c:5d}  {s.sl_c:7.1%}  "
                f"{s.agents_a:5d}  {s.sl_a:7.1%}  {s.abandon_a:6.1%}  {s.seats:7d}"
            )
        print(
            f"合计：来电 {p.calls:.0f}，坐席工时 C {p.agent_hours_c:g} / A {p.agent_hours_a:g}，"
            f"排班工时 {p.seat_hours:g}，峰值席位 {p.peak_seats}"
        )


def main_staffing(
    config_dir: Path,
    db_url: str,
    day: date,
    days: int,
    target: tuple[float, float] | None,
    out: Path | None,
) -> int:
    """`callcenter staffing --date D [--days N] [--sl 0.8 --within 15] [--out plan.xlsx]`:
    `target` is (service level, seconds) overriding staffing.toml. Returns the exit code."""
    if not 1 <= days <= 31:
        print("参数错误：--days 应在 1 到 31 之间", file=sys.stderr)
        return 2
    try:
        s = load_staffing(config_dir)
    except ConfigErrors as exc:
        print(f"配置错误：{exc}", file=sys.stderr)
        return 2
    chosen = s.target
    if target is not None:
        sl, within = target
        if not 0 < sl < 1 or within < 0:
            print("参数错误：--sl 应在 0 与 1 之间，--within 不能为负", file=sys.stderr)
            return 2
        chosen = replace(s.target, service_level=sl, within=within)
    db = Database(db_url)
    try:
        plans = plan_from_store(db.engine, config_dir, day, days, chosen)
    except ConfigErrors as exc:
        print(f"配置错误：{exc}", file=sys.stderr)
        return 2
    finally:
        db.close()
    print_plans(plans, chosen)
    if out is not None:
        write_out(plans, out)
        print(f"\n已写出 {out}")
    return 0
