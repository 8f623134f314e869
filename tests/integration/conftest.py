"""One sandbox PBX, engine and set of agent softphones for the whole integration session
(`cc`, on Asterisk; a FreeSWITCH one too, `freeswitch_center`, once a test runs on both
kinds: `on_both_kinds`); every test starts with the engine up and all agents logged in,
ready and idle."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Generator, Iterator

import pytest

from tests.integration.harness import Center, center, wait_until

_CENTER: list[Center] = []  # the center of the test running now, for the failure report
KINDS = ("asterisk", "freeswitch")


def _session_center(factory: pytest.TempPathFactory, kind: str) -> Iterator[Center]:
    with center(factory.mktemp(f"center-{kind}"), kind) as c:
        c.engine.start()
        yield c


@pytest.fixture(scope="session")
def asterisk_center(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Center]:
    yield from _session_center(tmp_path_factory, "asterisk")


@pytest.fixture(scope="session")
def freeswitch_center(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Center]:
    yield from _session_center(tmp_path_factory, "freeswitch")


@pytest.fixture(scope="session")
def cc(asterisk_center: Center) -> Center:
    """The session's center on Asterisk (the tests not yet run on both kinds use it)."""
    return asterisk_center


# A test that runs on both PBX kinds: `cc` is then the center of the kind in its parameter
# (the module overrides `cc` with `center_of_kind`).
on_both_kinds = pytest.mark.parametrize("cc", KINDS, indirect=True)


def center_of_kind(request: pytest.FixtureRequest) -> Center:
    kind = getattr(request, "param", "asterisk")
    found: Center = request.getfixturevalue(f"{kind}_center")
    return found


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
    _CENTER[:] = [cc]
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
        cc.hangup_all()
        wait_until(
            lambda: all(a["state"] == "idle" for a in cc.engine.agents().values()),
            30,
            "all agents idle after hanging up what was left",
        )
    wait_until(lambda: not cc.engine.queue(), 30, "an empty queue")
    cc.test_began = time.time()
    yield
    cc.release_callers()
