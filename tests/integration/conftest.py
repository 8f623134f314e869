"""One sandbox PBX, engine and set of agent softphones for the whole integration session;
every test starts with the engine up and all agents logged in, ready and idle."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Generator, Iterator

import pytest

from tests.integration.harness import Center, center, wait_until

_CENTER: list[Center] = []  # the session's center, for the failure report


@pytest.fixture(scope="session")
def cc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Center]:
    with center(tmp_path_factory.mktemp("center")) as c:
        _CENTER.append(c)
        c.engine.start()
        yield c
        _CENTER.remove(c)


def evidence(c: Center) -> str:
    """What a failed sandbox test leaves for whoever reads the CI output: the engine's log
    (without the HTTP access lines), the last queue events and the agents' states."""
    parts: list[str] = []
    with contextlib.suppress(Exception):
        lines = c.engine.log_path.read_text("utf-8", "replace").splitlines()
        lines = [x for x in lines if "aiohttp.access" not in x]
        parts.append("engine log (last 60 lines):\n" + "\n".join(x[:300] for x in lines[-60:]))
    with contextlib.suppress(Exception):
        rows = c.rows("SELECT * FROM queue_events ORDER BY id DESC LIMIT 30")
        parts.append("queue events (newest first):\n" + "\n".join(str(tuple(r)) for r in rows))
    with contextlib.suppress(Exception):
        parts.append("agents: " + json.dumps(c.engine.agents(), ensure_ascii=False)[:3000])
    with contextlib.suppress(Exception):
        errors = [
            json.dumps(e, ensure_ascii=False)[:300]
            for phone in set(c.phones.values())
            for e in phone.seen(lambda e: e.get("event") == "error")
        ]
        parts.append("agent phones' errors (last 10):\n" + "\n".join(errors[-10:] or ["none"]))
    return "\n\n".join(parts)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and _CENTER:
        report.sections.append(("sandbox evidence", evidence(_CENTER[0])))
    return report


@pytest.fixture(autouse=True)
def agents_ready(cc: Center) -> Iterator[None]:
    """Every test starts with the engine up and all agents logged in, ready and idle."""
    if not cc.engine.running():  # a test stopped it
        cc.engine.start()
    for user, phone in cc.phones.items():
        phone.answer_mode(user, "answer", 0.3)
    cc.set_all_agents("login")
    cc.set_all_agents("resume")
    try:
        wait_until(
            lambda: all(a["state"] == "idle" for a in cc.engine.agents().values()),
            15,
            "all agents idle",
        )
    except AssertionError:
        # a call an earlier (failed) test left up: end it, so this test starts clean
        cc.instance.cli("channel request hangup all")
        wait_until(
            lambda: all(a["state"] == "idle" for a in cc.engine.agents().values()),
            30,
            "all agents idle after hanging up what was left",
        )
    wait_until(lambda: not cc.engine.queue(), 30, "an empty queue")
    yield
    cc.release_callers()
