"""The browser phone's account over HTTP (SQLite and PostgreSQL): only the agent's own token
reads it, every read is audited, a desk-phone agent has none, a missing password is a clear
503; SIP.js is served from the npm install, and its absence is a clear error."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter import browser_phone
from callcenter.api.auth import add_token
from callcenter.api.console import LiveFeed
from callcenter.api.http import build_app
from callcenter.config import load_config
from callcenter.live_figures.model import LiveFigures
from callcenter.storage.database import Database
from tests.unit.fakes import SHIPPED_CONFIG, Harness, running_runtime
from tests.unit.test_browser_phone_config import BROWSER_AGENT, WEBRTC


@pytest.fixture
async def phone_api(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[TestClient[Any, Any], Harness, dict[str, str]]]:
    database.upgrade()
    config_dir = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG, config_dir)
    for name, extra in (("agents.toml", BROWSER_AGENT), ("center.toml", WEBRTC)):
        path = config_dir / name
        path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    # the phones' passwords where they are kept today: the sandbox instance's secrets file
    monkeypatch.setenv("CALLCENTER_PBX_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv(browser_phone.SANDBOX_INSTANCE_ENV, "t")
    secrets = tmp_path / "root" / "srv" / "cc" / "t" / "secrets.json"
    secrets.parent.mkdir(parents=True)
    secrets.write_text(json.dumps({"ami": "x", "agent:1005": "browser-secret-1005"}))
    path = tmp_path / "tokens.toml"
    tokens = {
        "1005": add_token(path, "1005", "agent"),
        "1001": add_token(path, "1001", "agent"),
        "supervisor": add_token(path, "班长", "supervisor"),
    }
    monkeypatch.setenv("CALLCENTER_TOKENS_FILE", str(path))
    monkeypatch.delenv("CALLCENTER_API_TOKEN", raising=False)
    async with running_runtime(load_config(config_dir)) as h:
        feed = LiveFeed(figures := LiveFigures(), h.runtime)
        task = asyncio.create_task(feed.run(h.bus.subscribe("console")))
        app = build_app(h.runtime, figures, database, feed=feed)
        async with TestClient(TestServer(app)) as c:
            yield c, h, tokens
        task.cancel()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_only_the_agents_own_token_reads_its_phone_and_each_read_is_audited(
    phone_api: tuple[TestClient[Any, Any], Harness, dict[str, str]],
) -> None:
    c, _, t = phone_api
    own = await c.get("/api/agents/1005/phone", headers=auth(t["1005"]))
    assert own.status == 200
    assert own.headers["Cache-Control"] == "no-store"
    assert await own.json() == {
        "agent_id": "1005",
        "extension": "1005",
        "display_name": "刘洋",
        "ws_url": "wss://pbx.example.org:8089/ws",
        "sip_uri": "sip:1005@pbx.example.org",
        "password": "browser-secret-1005",
        "candidate_networks": [],  # center.toml [webrtc]: every address is offered
    }
    for who in ("1001", "supervisor"):
        other = await c.get("/api/agents/1005/phone", headers=auth(t[who]))
        assert other.status == 403, who
        assert "browser-secret" not in await other.text()
    assert (await c.get("/api/agents/1005/phone")).status == 401
    desk = await c.get("/api/agents/1001/phone", headers=auth(t["1001"]))
    assert desk.status == 409
    assert (await desk.json())["error_id"] == "agent.no_browser_phone"
    log = await (await c.get("/api/audit", headers=auth(t["supervisor"]))).json()
    assert [(e["actor"], e["action"], e["target"]) for e in log["entries"]] == [
        ("1005", "phone.credentials", "1005")
    ]


async def test_a_phone_without_a_password_is_a_clear_503(
    phone_api: tuple[TestClient[Any, Any], Harness, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    c, _, t = phone_api
    monkeypatch.setenv(browser_phone.SANDBOX_INSTANCE_ENV, "elsewhere")
    resp = await c.get("/api/agents/1005/phone", headers=auth(t["1005"]))
    assert resp.status == 503
    body = await resp.json()
    assert body["error_id"] == "phone.unavailable" and "1005" in body["message"]


async def test_sipjs_is_served_from_the_npm_install_and_its_absence_is_said(
    phone_api: tuple[TestClient[Any, Any], Harness, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    c, _, _ = phone_api
    assert browser_phone.sipjs_problem() == "", "run tools/setup.sh (installs SIP.js)"
    index = await c.get("/console/vendor/sip.js/index.js")
    assert index.status == 200
    assert index.headers["Content-Type"].startswith("text/javascript")
    assert "SimpleUser" in await (await c.get(
        "/console/vendor/sip.js/platform/web/simple-user/simple-user.js"
    )).text()  # fmt: skip
    assert (await c.get("/console/vendor/sip.js/../package.json")).status == 404
    assert (await c.get("/console/vendor/sip.js/nothing.js")).status == 404
    monkeypatch.setattr(browser_phone, "VENDOR_DIR", tmp_path / "not-installed")
    missing = await c.get("/console/vendor/sip.js/index.js")
    assert missing.status == 503
    assert "tools/setup.sh" in (await missing.json())["message"]
