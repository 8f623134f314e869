"""One sandbox PBX, engine and set of agent softphones for the whole integration session;
every test starts with the engine up and all agents logged in, ready and idle."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.harness import Center, center, wait_until


@pytest.fixture(scope="session")
def cc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Center]:
    with center(tmp_path_factory.mktemp("center")) as c:
        c.engine.start()
        yield c


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
