"""Building a kind's sandbox root once: the build script's own one-line reason reaches the
error, a script that says nothing is named by its exit status, and a built root is not built
again."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.pbx.base import SandboxError
from callcenter.pbx.sandboxes import build_root


def script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "build.sh"
    path.write_text(body)
    return path


def test_the_scripts_reason_is_the_error(tmp_path: Path) -> None:
    build = script(
        tmp_path, 'echo "step 1" >&2; echo "callcenter: SRC not set: no tarballs" >&2; exit 3'
    )
    with pytest.raises(
        SandboxError, match=r"sandbox Test root could not be built at .*: SRC not set"
    ):
        build_root(tmp_path / "root", ".ok", build, "Test")


def test_a_silent_failure_is_named_by_its_exit_status(tmp_path: Path) -> None:
    build = script(tmp_path, "exit 7")
    with pytest.raises(SandboxError, match="the build script exited with 7"):
        build_root(tmp_path / "root", ".ok", build, "Test")


def test_a_script_that_exits_0_without_the_marker_did_not_build(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="exited with 0"):
        build_root(tmp_path / "root", ".ok", script(tmp_path, "exit 0"), "Test")


def test_a_built_root_is_not_built_again(tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    build = script(tmp_path, f'mkdir -p "$1" && touch "$1/.ok" && echo run >> {counter}')
    root = tmp_path / "root"
    assert build_root(root, ".ok", build, "Test") == root
    assert build_root(root, ".ok", build, "Test") == root
    assert counter.read_text().splitlines() == ["run"]
