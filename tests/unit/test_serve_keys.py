"""`callcenter serve` without its data keys, or with corrupt ones, stops with one clear line
before it connects to anything or writes anything (GB/T 44192 8: never plaintext)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from callcenter.data.crypto import FILE_ENV, INDEX_ENV, KEYS_ENV

REPO = Path(__file__).resolve().parents[2]


def serve(tmp_path: Path, **keys: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_DATA_")}
    env.update(keys)
    return subprocess.run(
        [sys.executable, "-m", "callcenter.cli", "serve", "--db", f"sqlite:///{tmp_path}/cc.db"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("keys", "says"),
    [
        ({}, f"no data encryption key: set {KEYS_ENV} and {INDEX_ENV}, or {FILE_ENV}"),
        ({KEYS_ENV: "corrupt", INDEX_ENV: "x" * 32}, "key 1 is not a valid Fernet key"),
        ({FILE_ENV: "/nonexistent/keys.toml"}, "cannot read the key file"),
    ],
)
def test_serve_stops_with_one_line(tmp_path: Path, keys: dict[str, str], says: str) -> None:
    done = serve(tmp_path, **keys)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("callcenter: ") and says in lines[0]
    assert not (tmp_path / "cc.db").exists()  # nothing written
