"""Bad input on every route the OpenAPI document describes, on SQLite and PostgreSQL: ids and
page sizes out of range (2**31 and 2**63 do not fit the integer columns), lone surrogates and
NUL characters (which PostgreSQL refuses), invalid JSON. Each gets a JSON error with an
`error_id` and a 4xx status, never a 500."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.api.console import LiveFeed
from callcenter.api.http import build_app
from callcenter.api.openapi import document
from callcenter.data.crypto import ephemeral_cipher
from callcenter.live_figures.metrics import Metrics
from callcenter.live_figures.model import LiveFigures
from callcenter.storage.database import Database
from callcenter.tickets.settings import load_ticket_settings
from tests.unit.fakes import running_runtime

REPO = Path(__file__).resolve().parents[2]
TOKEN = "fuzz-admin-token-" + "x" * 16

BIG = (str(2**31), str(2**63), str(10**30), "-1", "0", "-9223372036854775809")
SURROGATE = "%ED%A0%80"  # the UTF-8-style bytes of U+D800, a lone surrogate
PATH_VALUES: dict[str, tuple[str, ...]] = {
    "integer": (*BIG, "abc", "1e3", SURROGATE),
    "string": (SURROGATE, "%00", "x" * 3000),
}
QUERY_VALUES: dict[str, tuple[str, ...]] = {
    "integer": (*BIG, "abc", "1.5"),
    "number": ("nan", "inf", "-inf", "1e400", "abc", str(10**30)),
    "string": (SURROGATE, "%00", "x" * 3000, "9" * 40),
}
BODY_VALUES: tuple[object, ...] = ("\ud800", "a\x00b", 2**63, -(2**63) - 1, 1e308, [], {})


def _schema(spec: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in ref:
        schema: dict[str, Any] = spec["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]
        return schema
    return ref


def cases(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, URL, request kwargs) for each route of the OpenAPI document `spec`: each path
    and query parameter out of range in turn, and bodies with invalid JSON or each property
    set to a bad value."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            params = op.get("parameters", [])
            good = {
                p["name"]: "1" if p.get("schema", {}).get("type") == "integer" else "c1"
                for p in params
                if p["in"] == "path"
            }
            if "{action}" in path:
                good["action"] = "pause"
            if "{channel}" in path:
                good["channel"] = "web"
            if "{format}" in path:
                good["format"] = "xlsx"

            def url(values: dict[str, str], query: str = "", path: str = path) -> str:
                filled = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
                return filled + (f"?{query}" if query else "")

            for p in params:
                kind = p.get("schema", {}).get("type") or "string"
                for value in (PATH_VALUES if p["in"] == "path" else QUERY_VALUES)[kind]:
                    if p["in"] == "path":
                        out.append((method, url({**good, p["name"]: value}), {}))
                    else:
                        out.append((method, url(good, f"{p['name']}={value}"), {}))
            body = op.get("requestBody")
            if method in ("post", "put"):
                out.append((method, url(good), {"data": b"{not json"}))
                out.append((method, url(good), {"data": b'{"a": "\\ud800"}'}))
                out.append((method, url(good), {"data": b'"\\udfff"'}))
                content = body["content"] if body else {}
                schema = _schema(spec, content.get("application/json", {}).get("schema", {}))
                for name in schema.get("properties", {}):
                    for bad in BODY_VALUES:
                        text = json.dumps({name: bad})
                        out.append((method, url(good), {"data": text.encode()}))
    # numbers past any integer column where the handler's own checks let them through
    for version in (2**31, 2**63, -(2**63) - 1):
        step = {"action": "dispatch", "department": "water", "expected_version": version}
        out.append(("post", "/api/tickets/1/transition", {"data": json.dumps(step).encode()}))
    return out


async def test_bad_input_on_every_route_is_a_4xx_json_error(
    tmp_path: Path, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLCENTER_API_TOKEN", TOKEN)
    monkeypatch.delenv("CALLCENTER_TOKENS_FILE", raising=False)
    monkeypatch.setenv("CALLCENTER_SMS_SECRET", "fuzz-sms-secret")  # unsigned bodies: 401
    database.upgrade()
    async with running_runtime() as harness:
        app = build_app(
            harness.runtime,
            harness.stats,
            database,
            tmp_path / "recordings",
            load_ticket_settings(REPO / "config"),
            tmp_path / "attachments",
            metrics=Metrics(harness.stats),
            feed=LiveFeed(LiveFigures(), harness.runtime),
            cipher=ephemeral_cipher(),
        )
        failures = []
        tried = 0
        async with TestClient(TestServer(app)) as c:
            made = await c.post(  # ticket 1 exists: bodies get past the lookup
                "/api/tickets",
                json={"content": "路灯不亮", "caller_number": "13812345678"},
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
            assert made.status == 201 and (await made.json())["id"] == 1
            for method, target, kwargs in cases(document(app)):
                headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
                async with c.request(method, target, headers=headers, **kwargs) as resp:
                    tried += 1
                    text = await resp.text()
                    if resp.status >= 500 or (
                        resp.status >= 400
                        and (resp.content_type != "application/json" or "error_id" not in text)
                    ):
                        failures.append((method.upper(), target[:120], resp.status, text[:160]))
    assert tried > 500
    assert failures == [], f"{len(failures)} of {tried}:\n" + "\n".join(map(str, failures))
