"""`callcenter serve` without its data keys, or with corrupt ones, stops with one clear line
before it connects to anything or writes anything (GB/T 44192 8: never plaintext); so does
serve without API tokens (unless --open-loopback) or with a tokens file it cannot read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from callcenter.api.auth import add_token
from callcenter.data.crypto import FILE_ENV, INDEX_ENV, KEYS_ENV, write_key_file

REPO = Path(__file__).resolve().parents[2]


TOKEN_ENVS = ("CALLCENTER_TOKENS_FILE", "CALLCENTER_API_TOKEN")


def serve(tmp_path: Path, **keys: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CALLCENTER_DATA_") and k not in TOKEN_ENVS
    }
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


def test_serve_without_api_tokens_refuses_to_start(tmp_path: Path) -> None:
    keys = tmp_path / "keys.toml"
    write_key_file(keys)
    for tokens in ({}, {"CALLCENTER_API_TOKEN": ""}):  # an empty secret is none
        done = serve(tmp_path, **{FILE_ENV: str(keys)}, **tokens)
        assert done.returncode == 2
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("callcenter: no API tokens: set CALLCENTER_TOKENS_FILE")
        assert "--open-loopback" in lines[0]
        assert not (tmp_path / "cc.db").exists()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "cannot read tokens: [Errno 2]"),
        ("[[token]\nname = ", "cannot read tokens: "),
        (b"\xff\xfe[[token]]", "cannot read tokens: "),
        ('[[token]]\nname = "1002"\nrole = "boss"\nsha256 = "x"\n', "token[1] needs name, role"),
    ],
)
def test_serve_with_an_unreadable_tokens_file_stops_with_one_line_naming_it(
    tmp_path: Path, content: str | bytes | None, says: str
) -> None:
    keys = tmp_path / "keys.toml"
    write_key_file(keys)
    tokens = tmp_path / "tokens.toml"
    add_token(tokens, "1001", "agent")  # a good entry first: one bad part spoils the file
    if content is None:
        tokens.unlink()
    else:
        with tokens.open("ab") as f:
            f.write(content if isinstance(content, bytes) else content.encode())
    done = serve(tmp_path, **{FILE_ENV: str(keys), "CALLCENTER_TOKENS_FILE": str(tokens)})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"callcenter: {tokens}: ") and says in lines[0]
    assert not (tmp_path / "cc.db").exists()


def test_token_add_refuses_a_tokens_file_it_cannot_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from callcenter.cli import main

    tokens = tmp_path / "tokens.toml"
    tokens.write_text("[[token]\n", encoding="utf-8")
    monkeypatch.setenv("CALLCENTER_TOKENS_FILE", str(tokens))
    assert main(["token", "add", "1001", "--role", "agent"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"callcenter: {tokens}: cannot read tokens")
    assert tokens.read_text(encoding="utf-8") == "[[token]\n"  # nothing appended
    good = tmp_path / "good.toml"
    monkeypatch.setenv("CALLCENTER_TOKENS_FILE", str(good))
    assert main(["token", "add", 'O"Neil', "--role", "agent"]) == 0
    assert main(["token", "add", "1002", "--role", "agent"]) == 0
    assert capsys.readouterr().out.count("shown once") == 2
