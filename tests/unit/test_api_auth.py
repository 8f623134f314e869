"""Bearer tokens with roles: hashed in a file, one admin token from the environment, and
loopback-only access when nothing is configured."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from callcenter.api.auth import Principal, add_token, identify, load_tokens, token_hash
from callcenter.api.errors import ApiError


@pytest.fixture
def tokens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    path = tmp_path / "tokens.toml"
    made = {
        "agent": add_token(path, "1001", "agent"),
        "supervisor": add_token(path, "班长王", "supervisor"),
        "department": add_token(path, "水务局联络员", "department", "water"),
    }
    monkeypatch.setenv("CALLCENTER_TOKENS_FILE", str(path))
    monkeypatch.delenv("CALLCENTER_API_TOKEN", raising=False)
    return made


def test_token_file_holds_hashes_only_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    token = add_token(path, "1001", "agent")
    text = path.read_text(encoding="utf-8")
    assert token not in text and token_hash(token) in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_tokens(path)[0].role == "agent"


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("agent", Principal("1001", "agent")),
        ("supervisor", Principal("班长王", "supervisor")),
        ("department", Principal("水务局联络员", "department", "water")),
    ],
)
def test_each_token_names_its_principal(
    tokens: dict[str, str], who: str, expected: Principal
) -> None:
    assert identify(f"Bearer {tokens[who]}", "10.1.2.3") == expected


@pytest.mark.parametrize("header", ["", "Bearer nope", "Bearer caf\u00e9", "Basic abc"])
def test_wrong_or_missing_token_is_401(tokens: dict[str, str], header: str) -> None:
    with pytest.raises(ApiError) as err:
        identify(header, "127.0.0.1")
    assert (err.value.status, err.value.error_id) == (401, "api.unauthorized")


def test_admin_token_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CALLCENTER_TOKENS_FILE", raising=False)
    monkeypatch.setenv("CALLCENTER_API_TOKEN", "s3cret")
    assert identify("Bearer s3cret", "10.0.0.9") == Principal("api", "admin")


@pytest.mark.parametrize(
    ("remote", "allowed"), [("127.0.0.1", True), ("::1", True), ("10.0.0.5", False), (None, False)]
)
def test_without_tokens_only_loopback_gets_in(
    monkeypatch: pytest.MonkeyPatch, remote: str | None, allowed: bool
) -> None:
    monkeypatch.delenv("CALLCENTER_TOKENS_FILE", raising=False)
    monkeypatch.delenv("CALLCENTER_API_TOKEN", raising=False)
    if allowed:
        assert identify("", remote) == Principal("local", "admin")
    else:
        with pytest.raises(ApiError):
            identify("", remote)


@pytest.mark.parametrize(
    ("role", "asked", "ok"),
    [
        ("agent", ("agent",), True),
        ("agent", ("supervisor",), False),
        ("department", ("supervisor",), False),
        ("supervisor", ("supervisor",), True),
        ("admin", ("supervisor",), True),
    ],
)
def test_roles(role: str, asked: tuple[str, ...], ok: bool) -> None:
    assert Principal("x", role).can(*asked) is ok


def test_bad_token_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[token]]\nname = "x"\nrole = "boss"\nsha256 = "00"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="token\\[0\\]"):
        load_tokens(path)
