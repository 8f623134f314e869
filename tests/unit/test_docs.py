"""The documentation: README stays the front page with its two commands, every link between
README and docs/ resolves, and the generated pages (the command line, the GB/T clause map) say
what the code says."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _build_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_docs", REPO / "tools" / "build_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_keeps_exactly_two_setup_commands() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]


def test_every_relative_link_in_readme_and_docs_resolves() -> None:
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            if not (page.parent / target).resolve().exists():
                broken.append(f"{page.relative_to(REPO)} -> {target}")
    assert not broken, broken
    # and every reference page is reachable from the front page
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    unlinked = [p.name for p in (REPO / "docs").glob("*.md") if f"docs/{p.name}" not in readme]
    assert not unlinked, unlinked


def test_generated_pages_are_current() -> None:
    for path, expected in _build_docs().pages().items():
        assert path.read_text(encoding="utf-8") == expected, (
            f"{path.name} is out of date: run python tools/build_docs.py"
        )


def test_cli_page_lists_every_command_with_its_options() -> None:
    page = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    assert "## callcenter serve\n" in page and "--open-loopback" in page
    assert "## callcenter data quality\n" in page


def test_api_page_has_every_operation_of_the_document_with_its_parameters() -> None:
    from callcenter.api.http import reference_app
    from callcenter.api.openapi import document

    page = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    spec = document(reference_app())
    missing = [
        f"{method.upper()} {path}"
        for path, ops in spec["paths"].items()
        for method in ops
        if f"\n## {method.upper()} {path}\n" not in page
    ]
    assert not missing, missing
    tickets = page.split("\n## GET /api/tickets\n", 1)[1].split("\n## ", 1)[0]
    assert "| `per_page` | query | integer, 1..200 |" in tickets and "Roles: agent" in tickets


def test_a_stale_api_page_is_caught() -> None:
    build_docs = _build_docs()
    spec = {
        "openapi": "3.1.0",
        "info": {"description": "d"},
        "components": {"schemas": {"Error": {"type": "object", "properties": {}}}},
        "paths": {"/x": {"get": {"summary": "X (roles: admin)", "responses": {}}}},
    }
    page = build_docs.render_api(spec)
    assert "## GET /x\n" in page and "- Roles: admin" in page
    assert page != build_docs.pages()[build_docs.API]


def test_clause_map_finds_a_clause_named_in_a_test_name(tmp_path: Path) -> None:
    clause_map = _build_docs()
    (tmp_path / "tests").mkdir()
    (tmp_path / "callcenter").mkdir()
    # written in two pieces, so the clause map of this repository does not list this file
    name = "test_" + "44190_6_3_1_transfer"
    (tmp_path / "tests" / "test_x.py").write_text(f"def {name}() -> None: ...\n")
    (tmp_path / "callcenter" / "x.py").write_text('"""GB/T ' + '44192 8.2: masked."""\n')
    found = clause_map.scan(tmp_path)
    assert found[("44190", "6.3.1")]["tests"] == {f"tests/test_x.py::{name}"}
    assert found[("44192", "8.2")]["code"] == {"callcenter/x.py"}
