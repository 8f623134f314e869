"""An engine started with the wrong AMI secret, against the real sandbox Asterisk: it says
it is an authentication failure (its log and /health/ready's reason), and it backs off
instead of logging in again every second for ever."""

from __future__ import annotations

import re
import shutil
import urllib.error
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import (
    HTTP_PORT,
    INSTANCE_NAME,
    LIVE_PORT,
    Center,
    Engine,
    wait_until,
)

pytestmark = pytest.mark.pbx

WRONG = "not-the-ami-secret"
REFUSED = "failed to authenticate as 'callcenter'"  # Asterisk's own log line (manager.c)


def refusals(cc: Center) -> int:
    """How many logins Asterisk has refused to the engine's manager user."""
    return cc.instance.log.read_text(errors="replace").count(REFUSED)


def second_engine_config(cc: Center, directory: Path) -> Path:
    """The session's config for another engine: its own live-audio port, queue_log and
    recordings, so it disturbs nothing of the session's engine."""
    shutil.copytree(cc.config_dir, directory)
    center = directory / "center.toml"
    text = center.read_text(encoding="utf-8")
    text = text.replace(f"127.0.0.1:{LIVE_PORT}", f"127.0.0.1:{LIVE_PORT + 5}")
    text = text.replace(f"{INSTANCE_NAME}_queue_log", f"{INSTANCE_NAME}_wrong_secret_queue_log")
    text = text.replace(str(cc.recordings_root), str(directory.parent / "recordings"))
    center.write_text(text, encoding="utf-8")
    return directory


def test_wrong_ami_secret_is_reported_and_retried_with_backoff(cc: Center, tmp_path: Path) -> None:
    before = refusals(cc)
    engine = Engine(
        second_engine_config(cc, tmp_path / "config"),
        f"sqlite:///{tmp_path / 'engine.db'}",
        WRONG,
        tmp_path / "engine.log",
        http_port=HTTP_PORT + 7,
    )
    engine.start(linked=False)
    try:

        def refused() -> dict[str, Any] | None:
            try:
                body: dict[str, Any] = engine.get("/health/ready")
            except (OSError, urllib.error.URLError, ValueError):
                return None
            reason = str(body.get("reasons", {}).get("pbx:it", ""))
            return body if "AMI authentication failed" in reason else None

        body = wait_until(refused, 60, "/health/ready to name the refused AMI login")
        assert body["ok"] is False and body["checks"]["pbx:it"] is False
        reason = body["reasons"]["pbx:it"]
        assert "'callcenter'" in reason and "secret" in reason and WRONG not in reason

        # Each attempt is one log line with the next wait, doubling; Asterisk saw exactly
        # those attempts and no others (before: a new login about every 2 s, for ever).
        def attempts() -> list[tuple[int, int]]:
            text = engine.log_path.read_text(errors="replace")
            found = re.findall(r"AMI authentication failed.*attempt (\d+), next in (\d+) s", text)
            return [(int(a), int(b)) for a, b in found]

        wait_until(lambda: len(attempts()) >= 3, 90, "three refused logins")
        assert attempts()[:3] == [(1, 5), (2, 10), (3, 20)]
        wait_until(lambda: refusals(cc) - before >= 3, 30, "Asterisk to log the refusals")
        assert refusals(cc) - before == 3
        log = engine.log_path.read_text(errors="replace")
        assert WRONG not in log
        assert engine.running(), "a wrong secret must not stop the engine"
    finally:
        engine.stop()
