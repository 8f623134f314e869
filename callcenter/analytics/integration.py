"""Integration evaluation (GB/T 44190 7.1): the indicators the system itself can measure after
hotlines were merged into 12345: how many numbers route into the one platform and how much
traffic each carries, which ticket channels are in use, and the call and ticket KPIs in a
window before and after a given date (the merger, a new process...)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from callcenter.analytics.sql import Period as Window
from callcenter.analytics.sql import in_period, tune
from callcenter.config import load_config
from callcenter.reports import kpi
from callcenter.reports.query import Period, call_totals, ticket_totals
from callcenter.storage.database import Database
from callcenter.storage.schema import CallRecord, Ticket
from callcenter.tickets.service import CHANNELS
from callcenter.tickets.settings import load_ticket_settings

MAIN_DID = "12345"
CHANNEL_LABELS = {
    "phone": "电话",
    "web": "网站",
    "app": "移动应用",
    "miniprogram": "小程序",
    "wechat": "微信",
    "sms": "短信",
}
KPI_LABELS = {
    "offered": "进线量",
    "connection_rate": "接通率",
    "sl15": "15秒接通率",
    "abandon_rate": "呼损率",
    "average_wait": "平均等待时长",
    "received": "受理工单量",
    "on_time_completion": "按时办结率",
    "resolution": "解决率",
    "satisfaction": "满意率",
    "callback_coverage": "回访率",
}


def _kpis(conn: Connection, window: Window) -> dict[str, float | int | None]:
    period = Period(window.start, window.end)
    calls = call_totals(conn, period)
    t = ticket_totals(conn, period)
    return {
        "offered": calls.offered,
        "connection_rate": kpi.connection_rate(calls.answered, calls.offered),
        "sl15": kpi.answered_within_rate(calls.answered_within, calls.offered),
        "abandon_rate": kpi.abandon_rate(calls.abandoned, calls.offered),
        "average_wait": kpi.average_wait(calls.wait_seconds, calls.answered),
        "received": t.received,
        "on_time_completion": kpi.on_time_completion_rate(t.closed_on_time, t.closed),
        "resolution": kpi.resolution_rate(t.resolved, t.revisited),
        "satisfaction": kpi.satisfaction_rate(t.satisfied, t.basically_satisfied, t.evaluated),
        "callback_coverage": kpi.callback_coverage(t.revisited, t.closed),
    }


def integration_report(
    db: Database, config_dir: Path, pivot_date: date, window_days: int
) -> dict[str, Any]:
    """The indicators for `window_days` local days before `pivot_date` and as many from it."""
    if window_days < 1:
        raise ValueError("window_days must be at least 1")
    numbers = load_config(config_dir).numbers
    zone = load_ticket_settings(config_dir).calendar.zone
    pivot = datetime.combine(pivot_date, datetime.min.time(), zone)
    before = Window((pivot - timedelta(days=window_days)).timestamp(), pivot.timestamp())
    after = Window(pivot.timestamp(), (pivot + timedelta(days=window_days)).timestamp())
    both = Window(before.start, after.end)
    with db.engine.connect() as conn:
        tune(conn)
        calls_by_did = {
            str(d): int(n)
            for d, n in conn.execute(
                select(CallRecord.did, func.count())
                .where(in_period(CallRecord.joined_at, both))
                .group_by(CallRecord.did)
            )
        }
        channels = {
            str(c): int(n)
            for c, n in conn.execute(
                select(Ticket.channel, func.count())
                .where(in_period(Ticket.created_at, both))
                .group_by(Ticket.channel)
            )
        }
        kpis_before = _kpis(conn, before)
        kpis_after = _kpis(conn, after)
    merged = [n for n in numbers if n.did != MAIN_DID]
    total_calls = sum(calls_by_did.values())
    merged_calls = sum(calls_by_did.get(n.did, 0) for n in merged)
    return {
        "pivot_date": pivot_date.isoformat(),
        "window_days": window_days,
        "windows": {"before": asdict(before), "after": asdict(after)},
        "numbers": {
            "configured": len(numbers),
            "main": MAIN_DID if any(n.did == MAIN_DID for n in numbers) else "",
            "merged": len(merged),
            "merged_in_use": sum(1 for n in merged if calls_by_did.get(n.did, 0) > 0),
            "calls": total_calls,
            "calls_via_merged": merged_calls,
            "merged_share": kpi.ratio(merged_calls, total_calls),
            "list": [
                {
                    "did": n.did,
                    "label": n.label,
                    "skill": n.skill,
                    "region": n.region,
                    "calls": calls_by_did.get(n.did, 0),
                }  # fmt: skip
                for n in numbers
            ],
            "unknown_dids": sorted(d for d in calls_by_did if d not in {n.did for n in numbers}),
        },
        "channels": {
            "supported": len(CHANNELS),
            "in_use": sum(1 for c in CHANNELS if channels.get(c, 0) > 0),
            "list": [
                {"channel": c, "label": CHANNEL_LABELS.get(c, c), "tickets": channels.get(c, 0)}
                for c in CHANNELS
            ],
            # codes outside the dictionary (governance's code.channel finds each ticket)
            "unknown": [
                {"channel": c, "tickets": n}
                for c, n in sorted(channels.items())
                if c not in CHANNELS
            ],
        },
        "kpis": [
            {
                "kpi": name,
                "label": label,
                "before": kpis_before[name],
                "after": kpis_after[name],
                "change": kpi.delta(_num(kpis_after[name]), _num(kpis_before[name])),
            }
            for name, label in KPI_LABELS.items()
        ],
    }


def _num(value: float | int | None) -> float | None:
    return None if value is None else float(value)
