"""Two engine processes, active and standby, against one PostgreSQL database and the session's
sandbox Asterisk: the parts the takeover test and tools/bench_takeover.py share.

The session's own engine (`cc.engine`, SQLite) is stopped while a pair runs; both engines of the
pair use the session's config plus an `[ha]` section, the session's data keys (so stored numbers
are found by the same blind index) and their own HTTP port.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callcenter.simulation import Softphone
from tests.integration.harness import HTTP_PORT, Center, Engine, query, wait_until
from tests.private_postgres import fresh_database

LOW, HIGH = "12345", "12349"  # 12349 (敬老服务专线) joins with priority 5
# the pair's HTTP ports: clear of the session engines' (HTTP_PORT, and FS_HTTP_PORT = +2)
PAIR_PORTS = (HTTP_PORT + 4, HTTP_PORT + 5)


@contextlib.contextmanager
def pg_database() -> Iterator[str]:
    """A fresh database on the test PostgreSQL (the session's private cluster)."""
    base = os.environ.get("CALLCENTER_TEST_PG_URL")
    assert base, "CALLCENTER_TEST_PG_URL is not set (tests/conftest.py starts a private cluster)"
    with fresh_database(base, "cc_pair") as url:
        yield url


@dataclass
class Pair:
    cc: Center
    pg_url: str
    engines: tuple[Engine, Engine]
    # when the pair was made: its engines also write the rows of calls that ended earlier in
    # the session (the dialplan's cc-done records in AstDB, reconciled at link up), some from
    # the same numbers, so a test's own calls are the ones that joined after this
    since: float = field(default_factory=time.time)

    def rows(self, sql: str, **params: Any) -> list[Any]:
        return query(self.pg_url, sql, **params)

    def call_row(self, call_id: str) -> Any:
        found = self.rows("SELECT * FROM calls WHERE call_id = :c", c=call_id)
        return found[0] if found else None

    def new_call_id(self, number: str) -> str:
        index = self.cc.engine.cipher().phone_index(number)

        def found() -> str | None:
            rows = self.rows(
                "SELECT call_id FROM calls WHERE caller_number_hash = :h AND joined_at >= :since"
                " ORDER BY joined_at DESC",
                h=index,
                since=self.since,
            )
            return rows[0][0] if rows else None

        call_id: str = wait_until(found, 30, f"the caller {number} in the call records")
        return call_id

    def connected_agent(self, call_id: str, timeout: float = 45) -> str:
        def agent() -> str | None:
            row = self.call_row(call_id)
            return row.agent_id if row is not None and row.connected_at else None

        found: str = wait_until(agent, timeout, f"call {call_id} connected")
        return found

    def ended(self, call_id: str) -> Any:
        row = self.call_row(call_id)
        return row if row is not None and row.ended_at is not None else None

    def roles(self) -> list[str | None]:
        return [role(e) for e in self.engines]

    def active(self) -> Engine:
        """The engine that is active and linked to the PBX (waits for one)."""

        def one() -> Engine | None:
            found = [e for e in self.engines if role(e) == "active" and e.linked()]
            return found[0] if len(found) == 1 else None

        engine: Engine = wait_until(one, 90, "one active engine linked to the PBX")
        return engine

    def other(self, engine: Engine) -> Engine:
        return self.engines[1] if engine is self.engines[0] else self.engines[0]

    def stop(self) -> None:
        for engine in self.engines:
            with contextlib.suppress(Exception):
                engine.stop()


def role(engine: Engine) -> str | None:
    """The role /health/ready reports, None while the process does not answer."""
    if not engine.running():
        return None
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{engine.http_port}/health/ready", timeout=5
        ) as r:
            body = json.loads(r.read())
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read())
    except (OSError, ValueError):
        return None
    found = body.get("role")
    return str(found) if found is not None else None


def ha_config(cc: Center, lock: str) -> Path:
    """The session's config with `[ha]` on."""
    target = cc.workdir / f"ha-config-{lock}"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(cc.config_dir, target)
    center = target / "center.toml"
    center.write_text(
        center.read_text(encoding="utf-8")
        + f'\n[ha]\nenabled = true\nlock = "{lock}"\n'
        # the shared 2-core test machine runs at load 15-20: a lock check (this process and
        # PostgreSQL both starved) took over the default 1 s once and fenced a healthy engine
        + "check_timeout = 4.0\n",
        encoding="utf-8",
    )
    return target


@contextlib.contextmanager
def engine_pair(cc: Center) -> Iterator[Pair]:
    """Two engines (not started) of one HA pair; the session's own engine stopped meanwhile."""
    cc.engine.stop()
    lock = f"it-{uuid.uuid4().hex[:8]}"
    config = ha_config(cc, lock)
    with pg_database() as url:
        engines = tuple(
            Engine(config, url, cc.engine.secret, cc.workdir / f"engine-{name}.log", http_port=port)
            for name, port in zip("ab", PAIR_PORTS, strict=True)
        )
        pair = Pair(cc, url, (engines[0], engines[1]))
        try:
            yield pair
        finally:
            pair.stop()


def ami_logins(cc: Center) -> int:
    """How many AMI sessions of the engine's user Asterisk has right now."""
    out = cc.instance.cli("manager show connected")
    return sum(1 for line in out.splitlines() if line.split()[:1] == ["callcenter"])


def incoming_since(phone: Softphone, user: str, since: float) -> list[dict[str, Any]]:
    return phone.seen(
        lambda e: e.get("event") == "incoming" and e.get("user") == user and e["at"] >= since
    )


def hang_up(phone: Softphone, number: str) -> None:
    phone.hangup(number)
    phone.wait_for(lambda e: e.get("event") == "disconnected")


def start_standby(engine: Engine) -> None:
    """Start an engine while another is active; wait until it is the standby, prepared."""
    engine.start(linked=False)
    wait_until(
        lambda: role(engine) == "standby" and engine.get("/health/ready").get("prepared"),
        300,  # the model load alone took over 100 s on the shared machine at load 18
        "the engine up as the standby, its ASR model loaded",
    )


def pause_all_but_1001(engine: Engine) -> None:
    for agent in ("1002", "1003", "1004"):
        engine.post(f"/api/agents/{agent}/pause", {"reason": "meeting"})


def now() -> float:
    return time.time()


def one_takeover(
    pair: Pair, active: Engine, recover: Callable[[], Engine], tag: int
) -> tuple[float, str]:
    """One caller talking to 1001 (the others paused), one waiting; the active engine is
    killed (SIGKILL) and the talk ends while no engine is active; `recover` returns the engine
    that serves next (the standby; or the killed one, started again). Returns kill -> the
    waiting caller ringing an agent's phone (the phone's own clock stamp) in seconds, and the
    route that rang it: "engine", or "fallback" when the dialplan's fallback route (app_queue,
    after engine.fallback_after without a heartbeat) got there first."""
    cc = pair.cc
    pause_all_but_1001(active)
    talk_number, wait_number = f"1330001{tag:02d}01", f"1330001{tag:02d}02"
    talking = cc.caller(talk_number)
    talking.call(talk_number, LOW)
    assert pair.connected_agent(pair.new_call_id(talk_number)) == "1001"
    talking.wait_for(lambda e: e.get("event") == "confirmed")
    waiting = cc.caller(wait_number)
    waiting.call(wait_number, LOW)
    wait_id = pair.new_call_id(wait_number)
    wait_until(lambda: len(active.queue()) == 1, 30, "the caller waiting on the active engine")
    phones = {(user, phone) for user, phone in cc.phones.items()}
    fallbacks = len(cc.fallback_answers())
    killed = time.time()
    active.kill()
    hang_up(talking, talk_number)
    serving = recover()

    def first_ring() -> float | None:
        rings = [e["at"] for user, phone in phones for e in incoming_since(phone, user, killed)]
        return min(rings) if rings else None

    rang: float = wait_until(first_ring, 120, "the waiting caller ringing an agent")

    def route() -> str | None:
        row = pair.call_row(wait_id)
        if row is not None and row.connected_at:
            return "engine"
        return "fallback" if len(cc.fallback_answers()) > fallbacks else None

    served: str = wait_until(route, 60, "the waiting caller connected")
    hang_up(waiting, wait_number)
    cc.release_callers()
    wait_until(serving.linked, 90, "the serving engine up and linked")
    wait_until(
        lambda: serving.agents()["1001"]["state"] == "idle", 60, "1001 idle again on the engine"
    )
    return rang - killed, served
