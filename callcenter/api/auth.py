"""Who is calling the API: bearer tokens with roles (agent, supervisor, department, admin,
auditor: reads the data access log and data reports, and may decrypt an ID-card number for a
stated purpose).

Tokens are never stored: `CALLCENTER_TOKENS_FILE` names a TOML file of
`[[token]] name, role, department, sha256` (the SHA-256 of the token; `callcenter token add`
writes it), and `CALLCENTER_API_TOKEN` is one admin token from the environment. With neither
configured, only loopback clients are let in, as the local admin (a development sandbox).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from callcenter.api.errors import ApiError, Handler

ROLES = ("agent", "supervisor", "department", "admin", "auditor")


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    department: str = ""

    def can(self, *roles: str) -> bool:
        return self.role == "admin" or self.role in roles


PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal", Principal)


@dataclass(frozen=True)
class TokenEntry:
    name: str
    role: str
    department: str
    sha256: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def load_tokens(path: Path) -> list[TokenEntry]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot read tokens: {exc}") from exc
    entries = []
    for i, t in enumerate(data.get("token", [])):
        role = t.get("role", "")
        if role not in ROLES or not t.get("name") or len(t.get("sha256", "")) != 64:
            raise ValueError(f"{path}: token[{i}] needs name, role ({'/'.join(ROLES)}), sha256")
        entries.append(TokenEntry(t["name"], role, t.get("department", ""), t["sha256"]))
    return entries


def add_token(path: Path, name: str, role: str, department: str = "") -> str:
    """Create a token, append its hash to the file (0600), return the token (shown once)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    token = secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        f.write(
            f'\n[[token]]\nname = "{name}"\nrole = "{role}"\n'
            f'department = "{department}"\nsha256 = "{token_hash(token)}"\n'
        )
    return token


def _configured() -> tuple[str, list[TokenEntry]]:
    admin = os.environ.get("CALLCENTER_API_TOKEN", "")
    file = os.environ.get("CALLCENTER_TOKENS_FILE", "")
    return admin, load_tokens(Path(file)) if file else []


def _loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


def identify(header: str, remote: str | None) -> Principal:
    admin, entries = _configured()
    if not admin and not entries:
        if _loopback(remote):
            return Principal("local", "admin")
        raise ApiError(401, "api.unauthorized", "no API tokens configured: loopback only")
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
        request[PRINCIPAL] = identify(header, request.remote)
    return await handler(request)


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]


def require(request: web.Request, *roles: str) -> Principal:
    who = principal(request)
    if not who.can(*roles):
        raise ApiError(403, "api.forbidden", f"role {who.role} may not do this")
    return who
