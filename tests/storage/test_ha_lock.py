"""The active engine's lock on a real PostgreSQL (the session's private cluster): one holder at
a time, the standby takes it when the holder's session ends, an active engine that loses its
connection (or whose checks stall) is fenced, and a standby service touches neither the PBX nor
the database until it holds the lock."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, inspect

from callcenter.config import HaConfig, load_config
from callcenter.data.crypto import ephemeral_cipher
from callcenter.ha import ACTIVE, EXIT_FENCED, STANDBY, Lease, conninfo
from callcenter.service import Service, ServiceOptions
from callcenter.tomlreader import ConfigError
from tests.private_postgres import fresh_database

REPO = Path(__file__).resolve().parents[2]
FAST = dict(poll_interval=0.1, check_interval=0.2, check_timeout=0.5)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh database of its own on the test PostgreSQL."""
    with fresh_database(os.environ["CALLCENTER_TEST_PG_URL"], "cc_ha") as url:
        yield url


def settings(lock: str = "test-lock") -> HaConfig:
    return HaConfig(enabled=True, lock=lock, **FAST)


@pytest.fixture
def leases(pg_url: str) -> Iterator[list[Lease]]:
    made: list[Lease] = []
    yield made
    for lease in made:
        lease.close()


def terminate(url: str, application_name: str) -> int:
    """End the backends of one application from another session (as a DBA or a failover
    would): PostgreSQL releases their locks."""
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (application_name,),
        ).fetchall()
    return len(rows)


def wait_for(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {predicate}"
        time.sleep(0.05)


def test_one_holder_and_the_standby_sees_who(pg_url: str, leases: list[Lease]) -> None:
    first, second = Lease(pg_url, settings()), Lease(pg_url, settings())
    first.name, second.name = "engine one", "engine two"
    leases += [first, second]
    assert first.try_acquire()
    assert not second.try_acquire()
    assert (first.role, second.role) == (ACTIVE, STANDBY)
    assert second.holder == "engine one"
    # another lock name is another pair
    other = Lease(pg_url, settings("another-center"))
    leases.append(other)
    assert other.try_acquire()


async def test_both_at_once_exactly_one_becomes_active(pg_url: str, leases: list[Lease]) -> None:
    contenders = [Lease(pg_url, settings()) for _ in range(6)]
    leases += contenders
    won = await asyncio.gather(*(asyncio.to_thread(c.try_acquire) for c in contenders))
    assert sorted(won) == [False] * 5 + [True]


async def test_the_standby_takes_the_lock_when_the_holder_session_ends(
    pg_url: str, leases: list[Lease]
) -> None:
    active, standby = Lease(pg_url, settings()), Lease(pg_url, settings())
    standby.name = "the standby"
    leases += [active, standby]
    assert active.try_acquire()
    stopping = asyncio.Event()
    waiting = asyncio.create_task(standby.acquire(stopping))
    await asyncio.sleep(0.5)
    assert not waiting.done()  # still the standby while the holder lives
    active.close()  # the holder's session ends (its process exited)
    assert await asyncio.wait_for(waiting, 20)
    assert standby.role == ACTIVE


async def test_a_stopped_standby_stops_waiting(pg_url: str, leases: list[Lease]) -> None:
    active, standby = Lease(pg_url, settings()), Lease(pg_url, settings())
    leases += [active, standby]
    assert active.try_acquire()
    stopping = asyncio.Event()
    waiting = asyncio.create_task(standby.acquire(stopping))
    await asyncio.sleep(0.3)
    stopping.set()
    assert await asyncio.wait_for(waiting, 20) is False


def test_a_healthy_holder_is_not_fenced_even_with_its_event_loop_busy(
    pg_url: str, leases: list[Lease]
) -> None:
    """The guards run in threads: a thread hogging Python for longer than the deadline (as
    a busy engine start can) does not fence a holder whose connection is fine. The check may
    take 1.5 s here (a loaded CI machine answered a check late at 0.5 s), and the hog lasts
    three times check interval + timeout, far past what an event-loop guard would allow."""
    relaxed = dict(FAST, check_timeout=1.5)
    active = Lease(pg_url, HaConfig(enabled=True, lock="test-lock", **relaxed))
    leases.append(active)
    assert active.try_acquire()
    lost: list[str] = []
    active.hold(lost.append)
    limit = relaxed["check_interval"] + relaxed["check_timeout"]
    busy_until = time.monotonic() + 3 * limit
    spins = 0
    while time.monotonic() < busy_until:  # pure Python work, no sleep
        spins += 1
    assert lost == [] and spins > 0


def test_an_active_engine_that_loses_its_connection_is_fenced(
    pg_url: str, leases: list[Lease]
) -> None:
    active, standby = Lease(pg_url, settings()), Lease(pg_url, settings())
    active.name = f"fenced {uuid.uuid4().hex[:8]}"
    leases += [active, standby]
    assert active.try_acquire()
    lost: list[str] = []
    active.hold(lost.append)
    time.sleep(0.6)
    assert lost == []  # a healthy connection: checks pass
    assert terminate(pg_url, active.name) == 1
    wait_for(lambda: lost)
    assert "check failed" in lost[0]
    assert standby.try_acquire()  # the server released the lock with the backend


def test_a_check_that_hangs_is_fenced_by_the_watchdog(pg_url: str, leases: list[Lease]) -> None:
    """A half-dead connection: the holder's backend stopped (SIGSTOP), so its check never
    answers; the watchdog fences it after check_interval + check_timeout."""
    active = Lease(pg_url, settings())
    leases.append(active)
    assert active.try_acquire()
    assert active._conn is not None
    backend = active._conn.info.backend_pid
    try:
        os.kill(backend, signal.SIGSTOP)  # the private cluster runs on this machine
    except OSError as exc:
        pytest.fail(f"cannot stop the PostgreSQL backend {backend} (a local server?): {exc}")
    try:
        lost: list[str] = []
        active.hold(lost.append)
        wait_for(lambda: lost)
        assert "no successful lock check" in lost[0]
    finally:
        os.kill(backend, signal.SIGCONT)


def test_a_fenced_process_exits_at_once(pg_url: str) -> None:
    """The real fence: a process holding the lock whose backend is terminated exits with
    EXIT_FENCED by itself (nothing else stops it)."""
    name = f"fenced-process {uuid.uuid4().hex[:8]}"
    script = textwrap.dedent(
        f"""
        import time
        from callcenter.config import HaConfig
        from callcenter.ha import Lease, fence

        lease = Lease({pg_url!r}, HaConfig(True, "proc-lock", 0.1, 0.2, 0.5))
        lease.name = {name!r}
        assert lease.try_acquire()
        print("held", flush=True)
        lease.hold(fence)
        time.sleep(3600)  # never ends: fence() exits the process
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        assert terminate(pg_url, name) == 1
        assert proc.wait(30) == EXIT_FENCED
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --- the service as the standby --------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def ha_config(tmp_path: Path, ami_port: int) -> Path:
    target = tmp_path / "config"
    shutil.copytree(REPO / "config", target)
    center = target / "center.toml"
    body = center.read_text(encoding="utf-8")
    body = body.replace("ami_port = 15038", f"ami_port = {ami_port}")
    body = body.replace(
        '[ha]\nenabled = false\nlock = "callcenter-engine"',
        '[ha]\nenabled = true\nlock = "service-lock"\npoll_interval = 0.1',
    )
    assert "enabled = true" in body and f"ami_port = {ami_port}" in body
    center.write_text(body, encoding="utf-8")
    return target


def test_ha_on_sqlite_is_a_config_error_naming_file_and_key(tmp_path: Path) -> None:
    config = load_config(ha_config(tmp_path, free_port()))
    options = ServiceOptions(db_url=f"sqlite:///{tmp_path}/cc.db", cipher=ephemeral_cipher())
    with pytest.raises(ConfigError) as err:
        Service(config, options)
    assert (err.value.file, err.value.key) == ("config/center.toml", "ha.enabled")
    assert "PostgreSQL" in err.value.message and "sqlite" in err.value.message


def test_ha_keys_are_checked(tmp_path: Path) -> None:
    target = ha_config(tmp_path, free_port())
    center = target / "center.toml"
    center.write_text(
        center.read_text(encoding="utf-8").replace("poll_interval = 0.1", "poll_interval = -1"),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_config(target)
    assert "ha.poll_interval" in str(err.value)


def get(port: int, path: str) -> tuple[int, dict[str, Any]]:
    import json

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def test_a_standby_service_touches_no_pbx_and_no_table_until_it_holds_the_lock(
    pg_url: str, tmp_path: Path, leases: list[Lease]
) -> None:
    # the PBX node's AMI port: a listener that counts who connects
    connections: list[float] = []

    async def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(time.monotonic())
        writer.close()

    ami_port = free_port()
    ami = await asyncio.start_server(count, "127.0.0.1", ami_port)
    holder = Lease(pg_url, settings("service-lock"))
    holder.name = "the other engine"
    leases.append(holder)
    assert holder.try_acquire()
    http_port = free_port()
    config = load_config(ha_config(tmp_path, ami_port))
    options = ServiceOptions(
        db_url=pg_url,
        http_port=http_port,
        secrets={"a": "not-used-standby"},
        workdir=tmp_path,
        cipher=ephemeral_cipher(),
    )
    service = Service(config, options)
    run = asyncio.create_task(service.run())
    try:
        status, body = 0, dict[str, Any]()
        deadline = time.monotonic() + 30
        while status != 503 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            with_error = await asyncio.to_thread(_try_get, http_port, "/health/ready")
            if with_error is not None:
                status, body = with_error
        assert (status, body["role"], body["active"]) == (503, "standby", "the other engine")
        await asyncio.sleep(1.0)  # a standby for a while: still nothing
        assert connections == []
        engine = create_engine(pg_url)
        try:
            with engine.connect() as conn:
                assert inspect(conn).get_table_names() == []  # not even the migrations
        finally:
            engine.dispose()
        holder.close()  # the active one goes: this one takes over as a restart does
        deadline = time.monotonic() + 60
        while not connections:  # the service runs on this loop: wait without blocking it
            assert time.monotonic() < deadline, "the promoted engine never reached the PBX"
            await asyncio.sleep(0.05)
        assert service.runtime is not None and service.runtime.role == ACTIVE
        status, body = await asyncio.to_thread(get, http_port, "/health/ready")
        assert body["role"] == "active"
        assert service.feed.snapshot()["role"] == "active"
    finally:
        service.stop()
        await asyncio.wait_for(run, 60)
        ami.close()


def _try_get(port: int, path: str) -> tuple[int, dict[str, Any]] | None:
    try:
        return get(port, path)
    except OSError:
        return None
