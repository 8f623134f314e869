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
def test_without_tokens_only_loopback_gets_in_when_opened(
    monkeypatch: pytest.MonkeyPatch, remote: str | None, allowed: bool
) -> None:
    monkeypatch.delenv("CALLCENTER_TOKENS_FILE", raising=False)
    monkeypatch.delenv("CALLCENTER_API_TOKEN", raising=False)
    if allowed:
        assert identify("", remote, open_loopback=True) == Principal("local", "admin")
    else:
        with pytest.raises(ApiError):
            identify("", remote, open_loopback=True)
    with pytest.raises(ApiError) as err:  # not opened: nobody, loopback or not
        identify("", remote)
    assert (err.value.status, err.value.error_id) == (401, "api.unauthorized")


def test_a_quote_in_a_name_keeps_the_tokens_file_readable(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    add_token(path, 'O"Brien \\ 王', "agent", 'wa"ter')
    add_token(path, "1002", "agent")
    entries = load_tokens(path)
    assert [(e.name, e.department) for e in entries] == [('O"Brien \\ 王', 'wa"ter'), ("1002", "")]


@pytest.mark.parametrize(
    "text", ['token = "abc"\n', "token = [1]\n", '[[token]]\nname = 5\nrole = "agent"\n']
)
def test_a_tokens_file_of_the_wrong_shape_is_refused_naming_it(tmp_path: Path, text: str) -> None:
    path = tmp_path / "t.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=f"^{path}: "):
        load_tokens(path)


def test_a_tokens_file_that_turns_corrupt_keeps_the_tokens_read_before(
    tokens: dict[str, str], tmp_path: Path
) -> None:
    assert identify(f"Bearer {tokens['agent']}", "10.1.2.3").name == "1001"
    path = tmp_path / "tokens.toml"
    path.write_text(path.read_text(encoding="utf-8") + "\n[[token]\nname = \n", encoding="utf-8")
    assert identify(f"Bearer {tokens['agent']}", "10.1.2.3").name == "1001"


def test_a_tokens_file_never_read_is_a_503_not_a_500(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[[token]\n", encoding="utf-8")
    monkeypatch.setenv("CALLCENTER_TOKENS_FILE", str(path))
    with pytest.raises(ApiError) as err:
        identify("Bearer x", "10.1.2.3")
    assert (err.value.status, err.value.error_id) == (503, "api.tokens_unreadable")


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
