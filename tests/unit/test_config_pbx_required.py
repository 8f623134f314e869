"""A missing center.toml, or an engine without a `[[pbx.nodes]]`, is a configuration error
naming the file and the key, not an engine that runs and takes no call; the data and report
commands (here `ivr test`) still run without a PBX node."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from callcenter.cli import main
from callcenter.config import ConfigErrors, load_config
from callcenter.data.crypto import ephemeral_cipher
from callcenter.service import Service, ServiceOptions
from callcenter.tomlreader import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(REPO / "config", target)
    return target


def without_nodes(config_dir: Path) -> Path:
    center = config_dir / "center.toml"
    text = center.read_text(encoding="utf-8")
    kept = re.split(r"(?m)^\[\[pbx\.nodes\]\]$", text)[0]
    assert kept != text and "[[pbx" not in kept
    center.write_text(kept, encoding="utf-8")
    return config_dir


def test_a_missing_center_toml_names_the_file(config_dir: Path) -> None:
    (config_dir / "center.toml").unlink()
    for need_pbx in (False, True):
        with pytest.raises(ConfigErrors) as err:
            load_config(config_dir, need_pbx=need_pbx)
        assert [(e.file, e.key, e.message) for e in err.value.errors] == [
            ("config/center.toml", "", "required file is missing")
        ]


def test_no_pbx_node_is_an_error_for_the_engine_only(config_dir: Path) -> None:
    without_nodes(config_dir)
    with pytest.raises(ConfigErrors) as err:
        load_config(config_dir, need_pbx=True)
    assert [(e.file, e.key) for e in err.value.errors] == [("config/center.toml", "pbx.nodes")]
    assert "at least one [[pbx.nodes]]" in str(err.value)
    assert load_config(config_dir).nodes == ()  # data and report commands read it


def test_the_service_refuses_a_config_without_pbx_node(config_dir: Path, tmp_path: Path) -> None:
    config = load_config(without_nodes(config_dir))
    options = ServiceOptions(db_url=f"sqlite:///{tmp_path}/cc.db", cipher=ephemeral_cipher())
    with pytest.raises(ConfigError) as err:
        Service(config, options)
    assert (err.value.file, err.value.key) == ("config/center.toml", "pbx.nodes")
    assert not (tmp_path / "cc.db").exists()


@pytest.mark.parametrize("command", [["serve"], ["config", "check"], ["pbx", "status"], ["demo"]])
def test_engine_commands_stop_with_the_file_and_key(
    config_dir: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    assert main(["--config", str(without_nodes(config_dir)), *command]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "config/center.toml: pbx.nodes: at least one [[pbx.nodes]] is required to run the "
        "engine (the PBX whose calls it takes)"
    ]


def test_a_command_without_pbx_still_runs(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(without_nodes(config_dir)), "ivr", "test", "12345", "1"]) == 0
    assert capsys.readouterr().out.strip()
