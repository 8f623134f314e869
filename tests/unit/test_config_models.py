"""The typed config models' report: pydantic's errors said as the config files name them
(file, dotted key with array indexes, what is allowed), cross-file checks in the same report,
and the JSON Schemas written for editors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pytest
from pydantic.dataclasses import dataclass

from callcenter.cli import main
from callcenter.config import FILE_MODELS, AgentsFile, CenterFile, QueueFile
from callcenter.config_models import (
    STRICT,
    Bool,
    Checked,
    FileModel,
    Float,
    Int,
    Known,
    Report,
    Str,
    validate,
)
from callcenter.config_schema import MODELS, schemas
from callcenter.tomlreader import ConfigErrors


@dataclass(frozen=True, config=STRICT)
class Row:
    id: Str
    size: Int = 1
    share: Annotated[Float, Checked(lambda v: None if v <= 1 else "must be at most 1")] = 0.5
    on: Bool = False
    tags: tuple[Annotated[Str, Known("tags", "tag")], ...] = ()


class Doc(FileModel):
    row: tuple[Row, ...] = ()


def said(data: object, context: dict[str, object] | None = None) -> list[str]:
    with pytest.raises(ConfigErrors) as info:
        validate(Doc, data, "x.toml", context)
    return [str(e) for e in info.value.errors]


def test_every_mistake_with_its_dotted_key_and_what_is_allowed() -> None:
    data = {
        "row": [
            {"id": "a"},
            {"id": 5, "size": "3", "colour": "red"},
            {"id": "c", "size": True, "share": 2, "on": "yes"},
        ],
        "rows": 1,
    }
    assert said(data) == [
        "x.toml: row[1].id: must be a string, got int 5",
        "x.toml: row[1].size: must be an integer, got str '3'",
        "x.toml: row[1].colour: unknown key (allowed: id, size, share, on, tags)",
        "x.toml: row[2].size: must be an integer, got a boolean",
        "x.toml: row[2].share: must be at most 1",
        "x.toml: row[2].on: must be true or false, got str 'yes'",
        "x.toml: rows: unknown key (allowed: row)",
    ]


def test_a_required_key_an_array_of_tables_and_an_integer_as_a_number() -> None:
    assert said({"row": [{"size": 2}]}) == ["x.toml: row[0].id: is required"]
    assert said({"row": {"id": "a"}}) == ["x.toml: row: must be an array of tables ([[row]])"]
    assert validate(Doc, {"row": [{"id": "a", "share": 1}]}, "x.toml").row[0].share == 1.0


def test_known_values_come_from_the_context_and_pass_without_one() -> None:
    data = {"row": [{"id": "a", "tags": ["red", "blue"]}]}
    assert said(data, {"tags": ("red",)}) == [
        "x.toml: row[0].tags[1]: unknown tag 'blue' (known: red)"
    ]
    assert validate(Doc, data, "x.toml").row[0].tags == ("red", "blue")


def test_a_report_gathers_several_files_and_cross_checks() -> None:
    report = Report()
    assert report.validate(Doc, {"row": [{"id": 1}]}, "a.toml") is None
    assert report.validate(Doc, {"row": [{"id": "b"}]}, "b.toml") is not None
    report.error("b.toml", "row[0].id", "duplicate id 'b'")
    with pytest.raises(ConfigErrors) as info:
        report.raise_if_any()
    assert str(info.value).splitlines() == [
        "a.toml: row[0].id: must be a string, got int 1",
        "b.toml: row[0].id: duplicate id 'b'",
    ]
    assert info.value.error_id == "config.invalid"


def test_a_node_of_an_unknown_kind_is_one_error_at_its_kind() -> None:
    data = {"pbx": {"nodes": [{"name": "a"}, {"name": "b", "kind": "yate", "port": 1}]}}
    report = Report()
    assert report.validate(CenterFile, data, "center.toml") is None
    assert [str(e) for e in report.errors] == [
        "center.toml: pbx.nodes[1].kind: must be one of asterisk, freeswitch, got 'yate'"
    ]


def test_a_named_queue_and_an_agent_skill_name_their_keys() -> None:
    context = {"skills": ("general", "legal")}
    report = Report()
    report.validate(
        QueueFile, {"queue": {"queues": [{"name": "q", "skills": ["lega"]}]}}, "q.toml", context
    )
    report.validate(
        AgentsFile,
        {"agent": [{"id": "1", "extension": "1", "skills": {"general": 6, "x": 1}}]},
        "a.toml",
        context,
    )
    assert [str(e) for e in report.errors] == [
        "q.toml: queue.queues[0].skills[0]: unknown skill 'lega' (known: general, legal)",
        "a.toml: agent[0].skills.general: proficiency must be an integer 1-5, got 6",
        "a.toml: agent[0].skills.x: unknown skill 'x' (known: general, legal)",
    ]


def test_each_config_file_has_a_schema_an_editor_can_check_against() -> None:
    found = {name: json.loads(text) for name, text in schemas().items()}
    assert set(found) == {f.removesuffix(".toml") + ".schema.json" for f in MODELS}
    assert set(FILE_MODELS) <= set(MODELS)
    center = found["center.schema.json"]
    assert center["title"] == "center.toml" and center["additionalProperties"] is False
    # a node's keys are its kind's: one schema per kind, the wing's keys in it
    text = json.dumps(center)
    assert '"ami_port"' in text and '"esl_port"' in text
    agent = found["agents.schema.json"]["$defs"]["AgentEntry"]
    assert agent["required"] == ["id", "extension", "skills"]
    assert agent["properties"]["skills"]["additionalProperties"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 5,
    }


def test_config_schema_writes_the_files_without_reading_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "schema"
    assert main(["--config", str(tmp_path / "none"), "config", "schema", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(schemas())
    assert (out / "center.schema.json").read_text(encoding="utf-8") == schemas()[
        "center.schema.json"
    ]
    assert f"wrote {out / 'queue.schema.json'}" in capsys.readouterr().out
