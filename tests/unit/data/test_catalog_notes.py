"""catalog.toml as a typed model (CatalogFile): every mistake of the notes in one report,
each naming the file, the dotted key and what is allowed, and the file's JSON Schema."""

from __future__ import annotations

import json
from typing import Any

import pytest

from callcenter.config_schema import schemas
from callcenter.data.catalog import parse_annotations
from callcenter.data.grades import Grade, Kind
from callcenter.tomlreader import ConfigErrors

FILE = "config/catalog.toml"


def _set(**keys: Any) -> dict[str, Any]:
    return {
        "title": "来电记录",
        "dataset": "话务",
        "owner": "话务平台",
        "frequency": "实时",
        "description": "每个来电一行",
        **keys,
    }


def test_every_mistake_of_the_notes_is_said_with_file_key_and_what_is_allowed() -> None:
    data = {
        "table": {
            "calls": _set(
                owner=" ",
                columns={
                    "did": {"meaning": "号码", "grade": "top", "kind": 3},
                    "node": {"meaning": "节点", "grade": "public", "colour": "red"},
                },
            )
        },
        "config_dataset": [
            _set(name="calls", file="agents.toml", key="agent", fields={}),
            _set(name="agents", file="agents.toml", fields={"id": {"meaning": "工号"}}),
        ],
    }
    with pytest.raises(ConfigErrors) as info:
        parse_annotations(data, FILE)
    assert [str(e) for e in info.value.errors] == [
        f"{FILE}: table.calls.owner: must not be empty",
        f"{FILE}: table.calls.columns.did.grade: 'top' is not one of public, internal, "
        "sensitive, core",
        f"{FILE}: table.calls.columns.did.kind: must be a string, got int 3",
        f"{FILE}: table.calls.columns.node.colour: unknown key (allowed: meaning, grade, kind)",
        f"{FILE}: config_dataset[1].key: is required",
        f"{FILE}: config_dataset[1].fields.id.grade: is required",
        f"{FILE}: config_dataset[0].name: 'calls' is already a data set of this catalogue",
    ]


def test_a_note_without_kind_is_plain_and_the_config_sets_keep_their_place() -> None:
    data = {
        "table": {"calls": _set(columns={"did": {"meaning": "号码", "grade": "public"}})},
        "config_dataset": [
            _set(name="agents", file="agents.toml", key="agent", fields={}),
        ],
    }
    notes = parse_annotations(data, FILE)
    did = notes.field("calls", "did")
    assert (did.grade, did.kind) == (Grade.PUBLIC, Kind.PLAIN)
    calls = notes.note("calls")
    assert (calls.category, calls.where, calls.file) == ("话务", "table.calls", "")
    agents = notes.note("agents")
    assert (agents.where, agents.file, agents.key) == ("config_dataset[0]", "agents.toml", "agent")


def test_the_schema_lists_the_grades_and_kinds() -> None:
    schema = json.loads(schemas()["catalog.schema.json"])
    assert schema["title"] == "catalog.toml" and schema["additionalProperties"] is False
    assert schema["$defs"]["Grade"]["enum"] == [g.value for g in Grade]
    assert schema["$defs"]["Kind"]["enum"] == [k.value for k in Kind]
    note = schema["$defs"]["FieldNote"]
    assert note["required"] == ["meaning", "grade"] and note["additionalProperties"] is False
