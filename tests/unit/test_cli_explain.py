"""`callcenter explain CALL_ID`: the story from the decision log and the calls table (number
masked), exit 0; an unknown call id exits 1 with one clear line; a bad decisions.toml exits 2
naming the file and key. Also GET /api/calls/{id}/explain on the same data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.api.http import build_app
from callcenter.cli import main
from callcenter.data.crypto import FILE_ENV, load_cipher, write_key_file
from callcenter.decisions.log import DecisionLog
from callcenter.storage.database import Database
from callcenter.storage.schema import CallRecord
from tests.unit.fakes import SHIPPED_CONFIG, running_runtime
from tests.unit.test_decision_log import ZONE, scripted_story

NUMBER = "13912345678"


@pytest.fixture
def center(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str, Path]:
    """A config folder whose decision log is under tmp_path, a database, data keys."""
    config = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG, config)
    log_dir = tmp_path / "decisions"
    (config / "decisions.toml").write_text(f'[decisions]\ndirectory = "{log_dir}"\n')
    keys = tmp_path / "keys.toml"
    write_key_file(keys)
    monkeypatch.setenv(FILE_ENV, str(keys))
    return config, f"sqlite:///{tmp_path / 'cc.db'}", log_dir


def store_call(url: str, call_id: str, joined_at: float, waited: float) -> None:
    cipher = load_cipher()
    database = Database(url)
    database.upgrade(cipher)
    sealed, index = cipher.seal_phone(NUMBER)
    row = CallRecord(
        call_id=call_id,
        node="a",
        did="12345",
        hotline="12345政务服务便民热线",
        region="市本级",
        caller_number=sealed,
        caller_number_hash=index,
        skill="general",
        priority=0,
        joined_at=joined_at,
        left_at=joined_at + waited,
        leave_reason="answered",
        waited=waited,
        agent_id="1002",
        connected_at=joined_at + waited,
        ended_at=joined_at + waited + 1,
        talk_seconds=1.0,
    )
    database.transaction(lambda s: s.add(row))
    database.close()


async def test_explain_prints_the_story_with_the_masked_number(
    center: tuple[Path, str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, url, log_dir = center
    await scripted_story(log_dir)
    arrival = next(
        json.loads(line)
        for line in next(log_dir.iterdir()).read_text().splitlines()
        if '"call":"c1"' in line and '"kind":"arrival"' in line
    )
    store_call(url, "c1", arrival["arrived"], 0.05)
    assert main(["--config", str(config), "explain", "c1", "--db", url]) == 0
    out = capsys.readouterr().out
    assert out.startswith("call c1: 12345政务服务便民热线 (number 12345), caller 139****5678")
    assert NUMBER not in out
    assert "answered by 1002" in out
    assert "could not be offered: 1004 skipped after a ring it did not take" in out
    assert "Why did this caller wait" in out

    assert main(["--config", str(config), "explain", "c1", "--db", url, "--json"]) == 0
    story = json.loads(capsys.readouterr().out)
    assert story["call_id"] == "c1" and story["lines"][0]["text"].startswith("arrived")


async def test_explain_unknown_call_exits_1(
    center: tuple[Path, str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, url, log_dir = center
    await scripted_story(log_dir)
    assert main(["--config", str(config), "explain", "no-such-call", "--db", url]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no call 'no-such-call' in the calls table or the decision log" in captured.err


def test_explain_call_only_in_the_calls_table(
    center: tuple[Path, str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A call from before the log was on: its record alone, and the log says it has nothing."""
    config, url, _ = center
    store_call(url, "old", 1_700_000_000.0, 12.0)
    assert main(["--config", str(config), "explain", "old", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "caller 139****5678" in out
    assert "(the decision log has no record of this call)" in out


def test_explain_bad_settings_exit_2(
    center: tuple[Path, str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, url, _ = center
    (config / "decisions.toml").write_text("[decisions]\ntop = 0\n")
    assert main(["--config", str(config), "explain", "c1", "--db", url]) == 2
    assert "decisions.toml: decisions.top: must be 1 or more" in capsys.readouterr().err


async def test_explain_endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLCENTER_API_TOKEN", "explain-admin-token-" + "x" * 16)
    monkeypatch.delenv("CALLCENTER_TOKENS_FILE", raising=False)
    log = DecisionLog(tmp_path, keep_days=30, capacity=1000, zone=ZONE)
    log.start()
    await scripted_story(tmp_path)  # a previous run's log in the same folder
    async with running_runtime(decisions=log) as h:
        app = build_app(h.runtime, h.stats)
        headers = {"Authorization": "Bearer explain-admin-token-" + "x" * 16}
        async with TestClient(TestServer(app)) as c:
            resp = await c.get("/api/calls/c1/explain", headers=headers)
            assert resp.status == 200
            body = await resp.json()
            assert body["call_id"] == "c1"
            assert any("1004 did not answer" in line["text"] for line in body["lines"])
            assert body["question"].startswith("Why did this caller wait")
            resp = await c.get("/api/calls/nobody/explain", headers=headers)
            assert resp.status == 404
            assert (await resp.json())["error_id"] == "call.unknown"
            assert (await c.get("/api/calls/c1/explain")).status == 401
    log.close()
