"""The tickets package's shape, checked on its source: the pure core sits beside the service,
the HTTP handlers and the schemas, and imports none of them, nor anything that does I/O."""

from __future__ import annotations

import ast

from callcenter.paths import REPO

PACKAGE = REPO / "callcenter" / "tickets"
CORE = (
    "actions",
    "calendar",
    "classifier",
    "errors",
    "knowledge",
    "lifecycle",
    "model",
    "similarity",
    "text",
)
# What the core may import: the standard library's pure modules, the core itself, the pure
# day calendar of ivr/, the engine's error base (a leaf importing only typing) and jieba
# (word segmentation, in memory).
ALLOWED = frozenset(
    {
        "__future__",
        "collections",
        "collections.abc",
        "dataclasses",
        "datetime",
        "enum",
        "functools",
        "logging",
        "math",
        "threading",
        "typing",
        "unicodedata",
        "zoneinfo",
        "jieba",
        "ivr.workdays",
        "callcenter.errors",
    }
    | {f"callcenter.tickets.{name}" for name in CORE}
)


def imported(source: str) -> set[str]:
    """Every module a source file imports, anywhere in it (`from pkg import mod` names
    `pkg.mod`; a relative import keeps its dots, so it is never allowed)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            if base == "callcenter.tickets":
                found |= {f"{base}.{alias.name}" for alias in node.names}
            else:
                found.add(base)
    return found


def not_allowed(source: str) -> set[str]:
    return {m for m in imported(source) if m not in ALLOWED}


def test_the_core_modules_are_there() -> None:
    for name in CORE:
        assert (PACKAGE / f"{name}.py").is_file(), name


def test_the_ticket_core_imports_no_io_and_nothing_around_it() -> None:
    found = {
        name: sorted(bad)
        for name in CORE
        if (bad := not_allowed((PACKAGE / f"{name}.py").read_text(encoding="utf-8")))
    }
    assert found == {}, f"the ticket core imports beyond its allowance: {found}"


def test_the_check_catches_io_and_the_service() -> None:
    sample = (
        "from __future__ import annotations\n"
        "import asyncio\n"
        "from sqlalchemy.orm import Session\n"
        "from callcenter.tickets import service, model\n"
        "from callcenter.tickets.http import routes\n"
        "from . import lifecycle\n"
        "def f() -> None:\n"
        "    import aiohttp\n"
    )
    assert not_allowed(sample) == {
        "asyncio",
        "sqlalchemy.orm",
        "callcenter.tickets.service",
        "callcenter.tickets.http",
        ".",
        "aiohttp",
    }
