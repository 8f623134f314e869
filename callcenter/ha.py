"""An active and a standby engine, coordinated through PostgreSQL (`[ha]` in center.toml).

The active engine holds a session-level advisory lock (`pg_try_advisory_lock`) on one
dedicated connection for as long as it runs; a standby process tries the same lock every
`poll_interval` and does nothing else: no PBX connection, no background job, no write. When it
gets the lock it runs exactly what a restarted engine runs (Service.run): migrations, agents'
statuses from storage, one link per PBX node and the restore barrier (routing held until every
node's snapshot is applied), so the queue comes back in its original order and priority.

Timing with the defaults (poll 0.5 s, check every 0.5 s, a check answered within 1 s):
- The active process dies (kill -9, crash): its kernel closes the socket, the backend ends and
  PostgreSQL releases the lock at once; a standby holds it within `poll_interval`.
- The active one loses its database (server restarted, backend terminated, network cut): its
  check, a `SELECT 1` every `check_interval` that must answer within `check_timeout`, fails and
  the process exits at once (`os._exit`: no further PBX action, every socket closed by the
  kernel). A watchdog thread enforces the same deadline even if the event loop stalls: the
  process exits when no check has succeeded for `check_interval + check_timeout`.
- A standby that gets the lock waits `fence_wait` (that same deadline plus the watchdog's tick)
  before it connects to any PBX: the last moment the old holder saw its lock is before the lock
  was released, so by then the old one has exited; two engines never drive a PBX together.
- A half-dead connection (the active host unreachable, no FIN): PostgreSQL releases the lock
  only when the backend notices. The lock session asks for server-side TCP keepalives (idle 2 s,
  interval 1 s, 3 probes: ~5 s) and sets client keepalives and `tcp_user_timeout`, so the backend
  ends within seconds; the old active has exited after ~1.5 s by its own check.
An engine that exits on losing its lock ("fenced", exit code 75) is restarted by its supervisor
(systemd `Restart=always`) and comes back as the standby.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from aiohttp import web
from sqlalchemy.engine import make_url

from callcenter.config import HaConfig
from callcenter.tomlreader import ConfigError

log = logging.getLogger(__name__)

EXIT_FENCED = 75  # EX_TEMPFAIL: the lock was lost; the supervisor starts us again (as standby)
_WATCHDOG_TICK = 0.1

ACTIVE, STANDBY, SINGLE = "active", "standby", "single"


def lock_key(name: str) -> int:
    """The advisory lock's 64-bit key for a lock name (the same on every host)."""
    return int.from_bytes(
        hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True
    )


def check_storage(config_file: str, url: str) -> None:
    """HA coordinates through PostgreSQL only: refuse anything else at start."""
    backend = make_url(url).get_backend_name()
    if backend != "postgresql":
        raise ConfigError(
            config_file,
            "ha.enabled",
            f"an active/standby pair needs PostgreSQL storage (the lock lives there), "
            f"but storage is {backend} ([storage] url, --db or CALLCENTER_DB_URL)",
        )


def conninfo(url: str) -> str:
    """libpq connection string of an SQLAlchemy PostgreSQL URL."""
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


class Lease:
    """The active engine's lock on one live PostgreSQL connection."""

    def __init__(self, url: str, settings: HaConfig, clock: Callable[[], float] = time.monotonic):
        self.url = url
        self.settings = settings
        self.key = lock_key(settings.lock)
        self.name = f"callcenter engine {socket.gethostname()} pid {os.getpid()}"
        self.role = STANDBY
        self.holder = ""  # who holds the lock, as a standby last saw it
        self.clock = clock
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._last_ok = 0.0
        self._watchdog: threading.Thread | None = None
        self._closed = threading.Event()

    @property
    def fence_wait(self) -> float:
        """How long a new holder waits before acting: the old holder's exit deadline."""
        s = self.settings
        return s.check_interval + s.check_timeout + 2 * _WATCHDOG_TICK

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(
            conninfo(self.url),
            autocommit=True,
            application_name=self.name[:63],
            connect_timeout=max(2, int(self.settings.check_timeout * 2)),
            keepalives=1,
            keepalives_idle=2,
            keepalives_interval=1,
            keepalives_count=3,
            tcp_user_timeout=int(self.settings.check_timeout * 3000),
            options="-c tcp_keepalives_idle=2 -c tcp_keepalives_interval=1 "
            "-c tcp_keepalives_count=3",
        )

    async def try_acquire(self) -> bool:
        """One attempt: True when this process now holds the lock."""
        if self._conn is None or self._conn.closed:
            self._conn = await self._connect()
        started = self.clock()
        cur = await self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
        row = await cur.fetchone()
        if row is not None and row[0]:
            self._last_ok = started
            self.role = ACTIVE
            self.holder = self.name
            return True
        self.holder = await self._holder()
        return False

    async def _holder(self) -> str:
        assert self._conn is not None
        unsigned = self.key & 0xFFFFFFFFFFFFFFFF
        cur = await self._conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
            "AND l.classid::bigint = %s AND l.objid::bigint = %s",
            (unsigned >> 32, unsigned & 0xFFFFFFFF),
        )
        row = await cur.fetchone()
        return str(row[0]) if row is not None else ""

    async def acquire(self, stopping: asyncio.Event) -> bool:
        """Wait as the standby until this process holds the lock (True) or is stopped (False)."""
        said = ""
        while not stopping.is_set():
            try:
                if await self.try_acquire():
                    log.info("ha: lock %r held: this engine is active", self.settings.lock)
                    return True
                if self.holder != said:
                    said = self.holder
                    log.info("ha: standby; the active engine is %s", said or "unknown")
            except (psycopg.Error, OSError) as exc:
                log.warning("ha: standby cannot reach the database: %s", exc)
                await self._drop()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.settings.poll_interval)
        return False

    async def watch(self, lost: Callable[[str], None]) -> None:
        """As the active engine: check the lock's connection every `check_interval`; call
        `lost` (which must stop this process acting) when a check fails or is late. A watchdog
        thread calls it too when no check has succeeded in time (a stalled event loop)."""
        s = self.settings
        self._watchdog = threading.Thread(
            target=self._watchdog_run, args=(lost,), name="ha-watchdog", daemon=True
        )
        self._watchdog.start()
        while True:
            await asyncio.sleep(s.check_interval)
            started = self.clock()
            try:
                assert self._conn is not None
                async with asyncio.timeout(s.check_timeout):
                    await self._conn.execute("SELECT 1")
            except (psycopg.Error, OSError, TimeoutError, AssertionError) as exc:
                lost(f"lock connection check failed: {exc!r}")
                return
            self._last_ok = started

    def _watchdog_run(self, lost: Callable[[str], None]) -> None:
        limit = self.settings.check_interval + self.settings.check_timeout
        while not self._closed.wait(_WATCHDOG_TICK):
            late = self.clock() - self._last_ok
            if late > limit:
                lost(f"no successful lock check for {late:.1f} s")
                return

    async def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    async def close(self) -> None:
        """A clean stop: end the watchdog, then the session (PostgreSQL releases the lock)."""
        self._closed.set()
        await self._drop()


def fence(reason: str) -> None:
    """Stop acting at once: the lock may be someone else's now. No cleanup that could still
    reach a PBX; the kernel closes every socket."""
    log.critical("ha: lost the active lock (%s): exiting so two engines never act together", reason)
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    os._exit(EXIT_FENCED)


def standby_app(lease: Lease) -> web.Application:
    """What a standby serves: health that says its role (not ready: it takes no traffic)."""

    async def health(request: web.Request) -> web.Response:
        return web.json_response(
            {"ok": False, "role": lease.role, "active": lease.holder}, status=503
        )

    async def alive(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "role": lease.role})

    async def ready(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "ok": False,
                "role": lease.role,
                "active": lease.holder,
                "checks": {"lock": False},
                "reasons": {"lock": "standby: another engine holds the lock"},
            },
            status=503,
        )

    app = web.Application()
    app.add_routes(
        [
            web.get("/health", health),
            web.get("/health/live", alive),
            web.get("/health/ready", ready),
        ]
    )
    return app
