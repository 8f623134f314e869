"""The reference pages built from the code, so they cannot drift from it:

- docs/cli.md: every command of `callcenter` with its options, from the argument parser.
- docs/schema/*.schema.json: the JSON Schema of each config file, from its model
  (callcenter/config_schema.py), for editors.
- docs/clauses.md: the GB/T clause map, every clause of GB/T 44190-2024 (hotline integration)
  and GB/T 44192-2024 (hotline data application) that the code, the configuration or the tests
  name, with the files that name it, the code apart from the tests.

    python tools/build_docs.py            # rewrite them
    python tools/build_docs.py --check    # exit 1 if one is not what the code says

A clause is named in a file as "GB/T 44190 6.3.1" (or 44190-2024 6.3.1); a test names one in
its function name as test_44190_6_3_1_... The titles are the standards' own headings, shortened
where a clause is a sentence.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
CLAUSES = REPO / "docs" / "clauses.md"
CLI = REPO / "docs" / "cli.md"
SCHEMA = REPO / "docs" / "schema"
SCANNED = ("acd", "ivr", "callcenter", "config", "dialplans", "tests", "tools")
SUFFIXES = {".py", ".toml", ".j2", ".html", ".js"}

TITLES = {
    "44190": {
        "4.1": "基本要求：统一的“12345政务服务便民热线”集中受理",
        "6.1.1.1": "工作场所：按常住人口、日均话务量测算座席规模",
        "6.1.1.3": "工作场所：专业性较强、业务量较高的主题设专席",
        "6.1.2.2": "设施设备：统一的语音平台、中继设备和通信线路",
        "6.2.1": "话务系统集成：统一的话务中心系统集成电话号码，语音统一接入",
        "6.2.2": "受理系统集成：统一的诉求受理系统",
        "6.2.3": "办理系统集成：统一办理、派单、督办、回访",
        "6.2.4.1": "数据资源集成：话务、录音、工单等数据",
        "6.2.4.2": "数据资源集成：与投诉建议、“好差评”体系对接",
        "6.3.1": "服务集成：与110、119、120、122等紧急热线协同联动",
        "7.1": "集成评价改进：集成效果评价",
    },
    "44192": {
        "5": "数据归集",
        "5.1": "数据归集：归集范围",
        "5.2": "数据归集：归集方式",
        "5.3": "数据归集：数据目录",
        "6.2": "数据治理：治理方式",
        "6.3": "数据治理：数据融合",
        "6.4": "数据治理：数据质量",
        "7": "数据应用",
        "7.1.1": "优化服务：服务质量",
        "7.1.2": "优化服务：应急保障",
        "7.1.3": "优化服务：智能应用",
        "7.1.3.1": "智能应用：语音识别、语义分析等",
        "7.1.3.2": "智能应用：数据统计、数据算法模型",
        "7.2.1.1": "日常监测：常态化数据分析",
        "7.2.1.2": "日常监测：热线数据预警",
        "7.2.2": "辅助决策：业务应用",
        "7.2.3": "辅助决策：协同治理",
        "7.2.4": "辅助决策：监督考评",
        "8": "数据安全",
        "8.1": "数据安全：管理机制与制度",
        "8.2": "数据安全：商业秘密、个人信息保护",
        "8.3": "数据安全：网络安全等级保护",
    },
}
STANDARD = {
    "44190": "GB/T 44190-2024 政务服务便民热线集成规范",
    "44192": "GB/T 44192-2024 政务服务便民热线数据应用指南",
}

TEXT = re.compile(r"GB/T\s?(4419[02])(?:[—-]2024)?\s+(\d+(?:\.\d+)*)")
TEST = re.compile(r"def (test_(4419[02])_(\d+(?:_\d+)*)_\w+)")


def _key(clause: str) -> tuple[int, ...]:
    return tuple(int(p) for p in clause.split("."))


def scan(repo: Path = REPO) -> dict[tuple[str, str], dict[str, set[str]]]:
    """(standard, clause) -> {"code": files, "tests": test ids}."""
    found: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(
        lambda: {"code": set(), "tests": set()}
    )
    for top in SCANNED:
        for path in sorted((repo / top).rglob("*")):
            if path.suffix not in SUFFIXES or not path.is_file() or path.name == "build_docs.py":
                continue
            rel = path.relative_to(repo).as_posix()
            text = path.read_text(encoding="utf-8", errors="replace")
            side = "tests" if rel.startswith("tests/") else "code"
            for std, clause in TEXT.findall(text):
                found[(std, clause.rstrip("."))][side].add(rel)
            for name, std, clause in TEST.findall(text):
                found[(std, clause.replace("_", "."))]["tests"].add(f"{rel}::{name}")
    return found


def render(found: dict[tuple[str, str], dict[str, set[str]]]) -> str:
    lines = [
        "# GB/T clause map",
        "",
        "Part of the [callcenter](../README.md) reference. Built from the code by",
        "`tools/build_docs.py` (a test fails when this file is out of date): each clause of the",
        "two national standards that the code, the configuration or the tests name, and where.",
        "",
    ]
    for std in ("44190", "44192"):
        lines += [
            f"## {STANDARD[std]}",
            "",
            "| clause | subject | code and configuration | tests |",
        ]
        lines.append("|---|---|---|---|")
        for (s, clause), where in sorted(found.items(), key=lambda kv: _key(kv[0][1])):
            if s != std:
                continue
            title = TITLES[std].get(clause, "")
            code = "<br>".join(f"`{f}`" for f in sorted(where["code"])) or "–"
            tests = "<br>".join(f"`{t}`" for t in sorted(where["tests"])) or "–"
            lines.append(f"| {clause} | {title} | {code} | {tests} |")
        lines.append("")
    return "\n".join(lines)


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], str, argparse.ArgumentParser]]:
    """(command words, one-line help, parser) of every command and subcommand, depth first."""
    found = []
    for action in parser._actions:  # noqa: SLF001 - argparse keeps subcommands only here
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            helps = {a.dest: a.help or "" for a in action._choices_actions}  # noqa: SLF001
            for name, sub in action.choices.items():
                found.append(((*path, name), helps.get(name, ""), sub))
                found += _commands(sub, (*path, name))
    return found


def render_cli() -> str:
    """docs/cli.md from callcenter.cli.build_parser(), wrapped at 100 columns."""
    from callcenter.cli import build_parser

    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps help to the terminal's width
    try:
        parser = build_parser()
        commands = _commands(parser)
        lines = [
            "# Command line reference",
            "",
            "Part of the [callcenter](../README.md) reference. Built from the argument parser by",
            "`tools/build_docs.py` (a test fails when this file is out of date).",
            "",
            "| command | what it does |",
            "|---|---|",
        ]
        lines += [f"| `callcenter {' '.join(words)}` | {text} |" for words, text, _ in commands]
        lines += ["", "## callcenter", "", "```", parser.format_help().rstrip(), "```", ""]
        for words, _, sub in commands:
            lines += [f"## callcenter {' '.join(words)}", "", "```", sub.format_help().rstrip()]
            lines += ["```", ""]
    finally:
        if before is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = before
    return "\n".join(lines)


def schema_pages() -> dict[Path, str]:
    from callcenter.config_schema import schemas

    return {SCHEMA / name: text for name, text in schemas().items()}


def pages() -> dict[Path, str]:
    return {CLAUSES: render(scan()), CLI: render_cli(), **schema_pages()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a page is stale")
    args = parser.parse_args(argv)
    stale = []
    for path, text in pages().items():
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current == text:
            continue
        if args.check:
            stale.append(path.relative_to(REPO).as_posix())
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(REPO)}")
    if stale:
        print(f"out of date: {', '.join(stale)}: run python tools/build_docs.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
