"""The package's shape, checked on its source: nothing above callcenter/pbx/ names a PBX
product, and no callcenter module imports itself back through others (no import cycles)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from callcenter.paths import REPO
from callcenter.pbx.registry import KINDS

PACKAGE = REPO / "callcenter"
WINGS = PACKAGE / "pbx"
PRODUCTS = re.compile(r"asterisk|pjsip|audiosocket|freeswitch|kamailio", re.IGNORECASE)
# (file, word) pairs allowed above pbx/, each with its reason. Empty: keep it short.
ALLOWED: dict[tuple[str, str], str] = {}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def docstrings(tree: ast.Module) -> set[int]:
    """ids of the docstring constants (documentation, where a product's name is data)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def code_words(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, word) of every identifier, imported name and string literal but docstrings
    (comments are not in the tree)."""
    skip = docstrings(tree)
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Name):
            yield line, node.id
        elif isinstance(node, ast.Attribute):
            yield line, node.attr
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield line, node.name
        elif isinstance(node, ast.arg | ast.keyword):
            if node.arg:  # None: a **kwargs keyword
                yield line, node.arg
        elif isinstance(node, ast.alias):
            yield line, node.name
            if node.asname:
                yield line, node.asname
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield line, node.module
        elif (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
        ):
            yield line, node.value


def product_names(path: Path) -> list[str]:
    rel = path.relative_to(REPO).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"), rel)
    return [
        f"{rel}:{line}: {word[:80]!r}"
        for line, word in code_words(tree)
        if PRODUCTS.search(word) and (rel, word) not in ALLOWED
    ]


def test_nothing_above_the_pbx_wings_names_a_product() -> None:
    above = [p for p in modules().values() if not p.is_relative_to(WINGS)]
    assert len(above) > 100  # the scan sees the package
    found = [hit for path in above for hit in product_names(path)]
    assert found == [], "PBX product names outside callcenter/pbx/:\n" + "\n".join(found)


def test_the_scan_catches_a_product_name_in_code_but_not_in_docs(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""Talks to Asterisk (docs may say so)."""\n'
        "# FreeSWITCH in a comment is fine too\n"
        "from callcenter.pbx.asterisk.driver import AsteriskDriver\n"
        'DIAL = "PJSIP/{extension}"\n'
        "def f(audiosocket: int) -> None: ...\n",
        encoding="utf-8",
    )
    tree = ast.parse(sample.read_text(encoding="utf-8"))
    words = {w for _, w in code_words(tree) if PRODUCTS.search(w)}
    assert words == {
        "callcenter.pbx.asterisk.driver",
        "AsteriskDriver",
        "PJSIP/{extension}",
        "audiosocket",
    }


def test_every_kind_is_a_wing_folder() -> None:
    for kind, row in KINDS.items():
        assert (WINGS / kind / "__init__.py").is_file(), kind
        assert row.wing.startswith(f"callcenter.pbx.{kind}."), kind


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The callcenter modules `name` imports, wherever in the file (a function-level import
    is still a dependency), except under `if TYPE_CHECKING:` (never run)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:  # `from pkg import module` depends on the module only
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {m for m in found if m in known and m != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            step = next(edges, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph[step]))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    group.append(top)
                    if top == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_among_callcenter_modules() -> None:
    known = modules()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    assert sum(len(e) for e in graph.values()) > 300  # the graph sees the imports
    assert "callcenter.config" in graph["callcenter.service"]
    found = cycles(graph)
    assert found == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


# Storage holds the tables; a feature's own reads and writes live in the feature's package.
# What storage may import from the service: itself and the small shared modules below every
# feature (the bus's types, field encryption, masking, the queue_log format, retries). Any
# feature (tickets, outbound, data applications, api, runtime) sits above it.
BELOW_STORAGE = (
    "callcenter.storage",
    "callcenter.bus",
    "callcenter.domain",
    "callcenter.data.crypto",
    "callcenter.masking",
    "callcenter.queue_log",
    "callcenter.retry",
    "callcenter.tomlreader",
)


def test_storage_imports_no_feature_above_it() -> None:
    known = modules()
    found = [
        f"{name} imports {target}"
        for name, path in known.items()
        if name.startswith("callcenter.storage")
        for target in sorted(imports(name, path, known))
        if target.startswith("callcenter.")
        and not any(target == m or target.startswith(m + ".") for m in BELOW_STORAGE)
    ]
    assert any(n.startswith("callcenter.storage.") for n in known)  # the scan sees storage
    assert found == [], "storage imports features above it:\n" + "\n".join(found)
