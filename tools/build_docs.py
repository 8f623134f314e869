"""The reference pages built from the code, so they cannot drift from it:

- docs/cli.md: every command of `callcenter` with its options, from the argument parser.
- docs/api.md: every path and method of the HTTP API with its roles, parameters, request body
  and responses, from the OpenAPI document the application serves (built from its route
  table, the way /api/openapi.json is, without a running server).
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
import json
import os
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
CLAUSES = REPO / "docs" / "clauses.md"
CLI = REPO / "docs" / "cli.md"
API = REPO / "docs" / "api.md"
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


def _cell(text: object) -> str:
    """Text for a Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _type(schema: dict[str, Any]) -> str:
    """A JSON Schema in a few words: its type (a $ref by name), enum, bounds and format."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "enum" in schema:
        return "one of " + ", ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            kinds = [_type(s) for s in schema[key] if s.get("type") != "null"]
            nullable = any(s.get("type") == "null" for s in schema[key])
            return " or ".join(kinds) + (" or null" if nullable else "")
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        kind = " or ".join(str(k) for k in kind)
    if kind == "array" and "items" in schema:
        kind = f"array of {_type(schema['items'])}"
    if "format" in schema:
        kind += f" ({schema['format']})"
    low, high = schema.get("minimum"), schema.get("maximum")
    low_len, high_len = schema.get("minLength"), schema.get("maxLength")
    if low is not None or high is not None:
        kind += f", {'' if low is None else low}..{'' if high is None else high}"
    if low_len is not None or high_len is not None:
        kind += f", {low_len or 0}..{'' if high_len is None else high_len} characters"
    return str(kind)


def _about(schema: dict[str, Any], description: str = "") -> str:
    """A field's or parameter's description and its default (none when it is null or "")."""
    said = [description or schema.get("description", "")]
    if schema.get("default", "") not in ("", None):
        said.append(f"default `{json.dumps(schema['default'], ensure_ascii=False)}`")
    return _cell("; ".join(s for s in said if s))


def _fields(schema: dict[str, Any]) -> list[str]:
    """The table of an object schema's properties."""
    required = set(schema.get("required", ()))
    lines = ["| field | type | required | description |", "|---|---|---|---|"]
    for name, prop in schema.get("properties", {}).items():
        lines.append(
            f"| `{name}` | {_cell(_type(prop))} | {'yes' if name in required else ''} "
            f"| {_about(prop)} |"
        )
    return lines


def render_api(spec: dict[str, Any] | None = None) -> str:
    """docs/api.md from the OpenAPI document (`spec`, or the application's)."""
    if spec is None:
        from callcenter.api.http import reference_app
        from callcenter.api.openapi import document

        spec = document(reference_app())
    schemas: dict[str, Any] = spec["components"]["schemas"]
    info = spec["info"]
    operations = [
        (path, method.upper(), op)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
    ]
    lines = [
        "# HTTP API reference",
        "",
        "Part of the [callcenter](../README.md) reference. Built from the OpenAPI document the",
        "engine serves at `/api/openapi.json` (OpenAPI " + spec["openapi"] + ") by",
        "`tools/build_docs.py` (a test fails when this file is out of date).",
        "",
        _cell(info["description"]),
        "",
        "| method | path | summary |",
        "|---|---|---|",
    ]
    lines += [f"| {m} | `{p}` | {_cell(op['summary'])} |" for p, m, op in operations]
    for path, method, op in operations:
        summary, _, roles = str(op["summary"]).partition(" (roles: ")
        lines += ["", f"## {method} {path}", "", summary, ""]
        if op.get("security") == []:
            lines.append("- Auth: none (public)")
        else:
            lines.append("- Auth: `Authorization: Bearer <token>`")
            if roles:
                lines.append(f"- Roles: {roles.removesuffix(')')}")
        params = op.get("parameters", [])
        if params:
            lines += [
                "",
                "| parameter | in | type | required | description |",
                "|---|---|---|---|---|",
            ]
            for p in params:
                schema = p.get("schema", {})
                lines.append(
                    f"| `{p['name']}` | {p['in']} | {_cell(_type(schema))} "
                    f"| {'yes' if p.get('required') else ''} "
                    f"| {_about(schema, p.get('description', ''))} |"
                )
        request = op.get("requestBody")
        if request:
            required = "required" if request.get("required") else "optional"
            for media, content in request.get("content", {}).items():
                schema = content.get("schema", {})
                lines += ["", f"Request body ({required}, `{media}`): {_cell(_type(schema))}"]
                if "$ref" in schema:
                    schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
                if schema.get("properties"):
                    lines += ["", *_fields(schema)]
        lines += ["", "| response | description |", "|---|---|"]
        for status, response in op.get("responses", {}).items():
            body = ""
            for content in response.get("content", {}).values():
                body = f" ({_type(content.get('schema', {}))})"
            lines.append(f"| {status} | {_cell(response.get('description', ''))}{body} |")
    nested = sorted(
        name
        for name in schemas
        if name != "Error"
        and not any(
            op.get("requestBody", {})
            .get("content", {})
            .get("application/json", {})
            .get("schema", {})
            .get("$ref", "")
            .endswith("/" + name)
            for _, _, op in operations
        )
    )
    for name in ["Error", *nested]:
        lines += ["", f"## {name}", ""]
        if schemas[name].get("description"):
            lines += [_cell(schemas[name]["description"]), ""]
        lines += (
            _fields(schemas[name])
            if schemas[name].get("properties")
            else [_cell(_type(schemas[name]))]
        )
    return "\n".join(lines) + "\n"


def schema_pages() -> dict[Path, str]:
    from callcenter.config_schema import schemas

    return {SCHEMA / name: text for name, text in schemas().items()}


def pages() -> dict[Path, str]:
    return {CLAUSES: render(scan()), CLI: render_cli(), API: render_api(), **schema_pages()}


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
