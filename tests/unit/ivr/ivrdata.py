"""A small IVR configuration the rule tests walk and break (as ivr.toml would parse)."""

from __future__ import annotations

import copy
import tomllib
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from callcenter.ivr_file import parse_menus
from ivr.model import IvrConfig

FILE = "config/ivr.toml"
SKILLS = {"general", "market", "labor", "environment", "health"}
TZ = ZoneInfo("Asia/Shanghai")

BASE = """
[ivr]
timezone = "Asia/Shanghai"

[entries]
default = "plain"
"12345" = "menu"
"12333" = "labor"

[prompts]
hi = "您好"
menu = "咨询请按1，投诉举报请按2，求助请按3，查询请按4，人工请按0"
sub = "投诉请按1，举报请按2"
code = "请输入两位业务代码"
bad = "您的输入有误"
none = "没有收到您的按键"
bye = "再见"
closed = "现在是非工作时间"
labor = "欢迎致电12333"

[schedule.office]
daily = ["08:00-20:00"]
sat = []
sun = []
holidays = [2026-02-16]
makeup_days = [2026-02-14]

[flow.menu]
start = "hi"
operator = "agent"
on_exhausted = "agent"

[flow.menu.node.hi]
type = "announce"
prompts = ["hi"]
next = "hours"

[flow.menu.node.hours]
type = "hours"
schedule = "office"
open = "main"
closed = "closed_bye"

[flow.menu.node.main]
type = "menu"
prompts = ["menu"]
options = [
  { digits = "1", target = "consult", label = "咨询" },
  { digits = "2", target = "sub", label = "投诉举报" },
  { digits = "3", target = "help", label = "求助" },
  { digits = "4", target = "code" },
]
retries = 2
timeout = 5
invalid_prompts = ["bad"]
timeout_prompts = ["none"]

[flow.menu.node.sub]
type = "menu"
prompts = ["sub"]
options = [
  { digits = "1", target = "complaint" },
  { digits = "2", target = "report" },
]
retries = 1
timeout = 4
invalid_prompts = ["bad"]
on_exhausted = "bye"

[flow.menu.node.code]
type = "menu"
prompts = ["code"]
options = [{ digits = "11", target = "consult" }, { digits = "05", target = "report" }]
max_digits = 2
allowed = "0123456789"
operator = false
retries = 0
on_exhausted = "bye"

[flow.menu.node.consult]
type = "route"
skill = "general"
ivr_path = "consult"

[flow.menu.node.complaint]
type = "route"
skill = "general"
ivr_path = "complaint"

[flow.menu.node.report]
type = "route"
skill = "environment"
ivr_path = "report"

[flow.menu.node.help]
type = "route"
skill = "health"
priority = 3

[flow.menu.node.agent]
type = "route"
skill = "general"
ivr_path = "agent"

[flow.menu.node.bye]
type = "hangup"
prompts = ["bye"]
reason = "no_input"

[flow.menu.node.closed_bye]
type = "hangup"
prompts = ["closed"]
reason = "closed"

[flow.plain.node.queue]
type = "route"

[flow.plain]
start = "queue"

[flow.labor]
start = "hi"

[flow.labor.node.hi]
type = "announce"
prompts = ["labor"]
next = "queue"

[flow.labor.node.queue]
type = "route"
skill = "labor"
ivr_path = "12333"
"""


def base() -> dict[str, Any]:
    return copy.deepcopy(_PARSED)


def load(data: dict[str, Any] | None = None) -> IvrConfig:
    return parse_menus(base() if data is None else data, FILE, SKILLS)


def at(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """Beijing time."""
    return datetime(year, month, day, hour, minute, second, tzinfo=TZ)


OPEN = at(2026, 3, 2, 10)  # a Monday
_PARSED = tomllib.loads(BASE)
