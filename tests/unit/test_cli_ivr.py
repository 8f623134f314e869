"""`callcenter ivr test` walks the shipped menus without a PBX; a broken ivr.toml is a config
error naming the file and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from callcenter.cli import main
from callcenter.config import ConfigErrors, load_config

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("did", "digits", "outcome"),
    [
        ("12315", "2", "outcome: queue skill=market priority=+0 ivr_path=12315/consult"),
        ("12345", "", "outcome: queue skill=general priority=+0 ivr_path=direct"),
        ("12369", "", "outcome: queue skill=environment"),
    ],
)
def test_ivr_test_prints_the_path(
    capsys: pytest.CaptureFixture[str], did: str, digits: str, outcome: str
) -> None:
    args = ["--config", str(REPO / "config"), "ivr", "test", did, digits]
    assert main([*args, "--at", "2026-11-25T10:00:00+08:00"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"DID {did} -> entry ")
    assert any(line.startswith(outcome) for line in out.splitlines()), out


def test_broken_menu_names_file_and_key(tmp_path: Path) -> None:
    directory = tmp_path / "config"
    shutil.copytree(REPO / "config", directory)
    text = (directory / "ivr.toml").read_text(encoding="utf-8")
    (directory / "ivr.toml").write_text(text.replace('skill = "market"', 'skill = "nope"', 1))
    with pytest.raises(ConfigErrors) as err:
        load_config(directory)
    assert any(e.file == "config/ivr.toml" and "skill" in e.key for e in err.value.errors)
