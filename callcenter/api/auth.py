"""Who is calling the API: bearer tokens with roles (agent, supervisor, department, admin,
auditor: reads the data access log and data reports, and may decrypt an ID-card number for a
stated purpose).

Tokens are never stored: `CALLCENTER_TOKENS_FILE` names a TOML file of
`[[token]] name, role, department, sha256` (the SHA-256 of the token; `callcenter token add`
writes it), and `CALLCENTER_API_TOKEN` is one admin token from the environment. The file is
read again when it changes (a token added while the service runs works at once); a file that
became unreadable keeps the last tokens read from it (logged), and `callcenter serve` refuses
to start on one it cannot read. With neither configured, nobody gets in, unless the app was
built with `open_loopback` (`serve --open-loopback`: the demo and the sandbox): then loopback
clients are the local admin.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import os
import secrets
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from callcenter.api.errors import ApiError, Handler
from callcenter.api.keys import CONFIG_DIR, SHIPPED_CONFIG
from callcenter.data.protection import Redactor
from callcenter.data.redaction import redactor

ROLES = ("agent", "supervisor", "department", "admin", "auditor")
TOKENS_FILE_ENV = "CALLCENTER_TOKENS_FILE"
ADMIN_TOKEN_ENV = "CALLCENTER_API_TOKEN"
# Whether clients on a loopback address are the local admin when no token is configured.
OPEN_LOOPBACK: web.AppKey[bool] = web.AppKey("open_loopback", bool)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    department: str = ""

    def can(self, *roles: str) -> bool:
        return self.role == "admin" or self.role in roles


PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal", Principal)


def redactor_for(request: web.Request, who: Principal) -> Redactor:
    """What the caller's role sees of each catalogued field (`callcenter.data.redaction`),
    after the app's configuration folder (the shipped one when the app names none)."""
    return redactor(request.app.get(CONFIG_DIR, SHIPPED_CONFIG), who.role)


@dataclass(frozen=True)
class TokenEntry:
    name: str
    role: str
    department: str
    sha256: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def load_tokens(path: Path) -> list[TokenEntry]:
    """The entries of a tokens file; ValueError, one line naming the file, when it cannot be
    read or an entry is wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        reason = " ".join(str(exc).split())
        raise ValueError(f"{path}: cannot read tokens: {reason}") from exc
    tokens = data.get("token", [])
    if not isinstance(tokens, list):
        raise ValueError(f"{path}: 'token' must be an array of tables ([[token]])")
    entries = []
    for i, t in enumerate(tokens):
        sha = t.get("sha256", "") if isinstance(t, dict) else ""
        name = t.get("name", "") if isinstance(t, dict) else ""
        role = t.get("role", "") if isinstance(t, dict) else ""
        department = t.get("department", "") if isinstance(t, dict) else ""
        if (
            role not in ROLES
            or not isinstance(name, str)
            or not name
            or not isinstance(department, str)
            or not isinstance(sha, str)
            or len(sha) != 64
        ):
            raise ValueError(f"{path}: token[{i}] needs name, role ({'/'.join(ROLES)}), sha256")
        entries.append(TokenEntry(name, role, department, sha))
    return entries


def add_token(path: Path, name: str, role: str, department: str = "") -> str:
    """Create a token, append its hash to the file (0600), return the token (shown once)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    token = secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not name:
        raise ValueError("a token needs a name")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        f.write(  # JSON strings are TOML basic strings: a quote in a name stays a quote
            f"\n[[token]]\nname = {_toml_string(name)}\nrole = {_toml_string(role)}\n"
            f"department = {_toml_string(department)}\nsha256 = {_toml_string(token_hash(token))}\n"
        )
    return token


def _toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


# The last tokens read from each file, by (size, mtime): read again only when it changed.
_read: dict[Path, tuple[tuple[int, int], list[TokenEntry]]] = {}


def _file_tokens(path: Path) -> list[TokenEntry]:
    try:
        st = path.stat()
        stamp = (st.st_size, st.st_mtime_ns)
    except OSError:
        stamp = (-1, -1)
    known = _read.get(path)
    if known is not None and known[0] == stamp:
        return known[1]
    try:
        entries = load_tokens(path)
    except ValueError as exc:
        if known is None:
            raise ApiError(
                503, "api.tokens_unreadable", "the API tokens file cannot be read"
            ) from exc
        log.error("%s; the %d tokens read before stay in force", exc, len(known[1]))
        return known[1]
    _read[path] = (stamp, entries)
    return entries


def configured_tokens(
    read: Callable[[Path], list[TokenEntry]] = load_tokens,
) -> tuple[str, list[TokenEntry]]:
    """The admin token of the environment ("" when none) and the entries of the tokens file;
    by default ValueError naming the file when it cannot be read (`serve` checks this at
    start; requests read through the cache of `_file_tokens`)."""
    admin = os.environ.get(ADMIN_TOKEN_ENV, "")
    file = os.environ.get(TOKENS_FILE_ENV, "")
    return admin, read(Path(file)) if file else []


def _loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


def identify(header: str, remote: str | None, open_loopback: bool = False) -> Principal:
    """Who sends this Authorization header. Without any token configured nobody, unless
    `open_loopback`: then a loopback client is the local admin."""
    admin, entries = configured_tokens(_file_tokens)
    if not admin and not entries:
        if open_loopback and _loopback(remote):
            return Principal("local", "admin")
        raise ApiError(
            401,
            "api.unauthorized",
            "no API tokens configured"
            + (": loopback clients only" if open_loopback else " (see callcenter token add)"),
        )
    given = header.removeprefix("Bearer ").strip().encode()
    if admin and hmac.compare_digest(given, admin.encode()):
        return Principal("api", "admin")
    digest = hashlib.sha256(given).hexdigest().encode()
    for entry in entries:
        if hmac.compare_digest(digest, entry.sha256.encode()):
            return Principal(entry.name, entry.role, entry.department)
    raise ApiError(401, "api.unauthorized", "missing or wrong API token")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every /api call is made by a principal; /health stays open."""
    if request.path.startswith("/api/"):
        header = request.headers.get("Authorization", "")
        if not header and "access_token" in request.query:  # a browser's websocket
            header = "Bearer " + request.query["access_token"]
        open_loopback = request.app.get(OPEN_LOOPBACK, False)
        request[PRINCIPAL] = identify(header, request.remote, open_loopback)
    return await handler(request)


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]


def require(request: web.Request, *roles: str) -> Principal:
    who = principal(request)
    if not who.can(*roles):
        raise ApiError(403, "api.forbidden", f"role {who.role} may not do this")
    return who
