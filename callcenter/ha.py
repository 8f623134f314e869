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
  kernel). The check and its watchdog run in threads of their own, not on the event loop: a
  busy or stalled loop neither delays the fence nor fences a healthy engine; a check that hangs
  (half-dead connection) trips the watchdog after `check_interval + check_timeout`.
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
    """The active engine's lock on one live PostgreSQL connection.

    Once held, two threads of their own guard it (never the event loop, which a busy start or
    a stall could hold up): the checker runs `SELECT 1` on the lock's connection every
    `check_interval`; the watchdog calls `lost` when no check has succeeded for
    `check_interval + check_timeout` (a check that hangs on a half-dead connection), and the
    checker calls it at once when a check fails."""

    def __init__(
        self, url: str, settings: HaConfig, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.url = url
        self.settings = settings
        self.key = lock_key(settings.lock)
        self.name = f"callcenter engine {socket.gethostname()} pid {os.getpid()}"
        self.role = STANDBY
        self.holder = ""  # who holds the lock, as a standby last saw it
        self.clock = clock
        self._conn: psycopg.Connection[Any] | None = None
        self._last_ok = 0.0
        self._threads: list[threading.Thread] = []
        self._closed = threading.Event()

    @property
    def fence_wait(self) -> float:
        """How long a new holder waits before acting: the old holder's exit deadline."""
        s = self.settings
        return s.check_interval + s.check_timeout + 2 * _WATCHDOG_TICK

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
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

    def try_acquire(self) -> bool:
        """One attempt (blocking: call it from a thread): True when this process now holds
        the lock."""
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
        started = self.clock()
        row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        if row is not None and row[0]:
            self._last_ok = started
            self.role = ACTIVE
            self.holder = self.name
            return True
        self.holder = self._holder()
        return False

    def _holder(self) -> str:
        assert self._conn is not None
        unsigned = self.key & 0xFFFFFFFFFFFFFFFF
        row = self._conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
            "AND l.classid::bigint = %s AND l.objid::bigint = %s",
            (unsigned >> 32, unsigned & 0xFFFFFFFF),
        ).fetchone()
        return str(row[0]) if row is not None else ""

    async def acquire(self, stopping: asyncio.Event) -> bool:
        """Wait as the standby until this process holds the lock (True) or is stopped (False)."""
        said = ""
        while not stopping.is_set():
            try:
                if await asyncio.to_thread(self.try_acquire):
                    log.info("ha: lock %r held: this engine is active", self.settings.lock)
                    return True
                if self.holder != said:
                    said = self.holder
                    log.info("ha: standby; the active engine is %s", said or "unknown")
            except (psycopg.Error, OSError) as exc:
                log.warning("ha: standby cannot reach the database: %s", exc)
                self._drop()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.settings.poll_interval)
        return False

    def hold(self, lost: Callable[[str], None]) -> None:
        """As the active engine: start the checker and the watchdog; `lost` must stop this
        process acting (the service passes `fence`)."""
        for target, name in ((self._check, "ha-check"), (self._watch, "ha-watchdog")):
            thread = threading.Thread(target=target, args=(lost,), name=name, daemon=True)
            self._threads.append(thread)
            thread.start()

    def _check(self, lost: Callable[[str], None]) -> None:
        while not self._closed.wait(self.settings.check_interval):
            started = self.clock()
            try:
                assert self._conn is not None
                self._conn.execute("SELECT 1")
            except Exception as exc:  # noqa: BLE001 - any failure: the lock may be gone
                if not self._closed.is_set():
                    lost(f"lock connection check failed: {exc!r}")
                return
            self._last_ok = started

    def _watch(self, lost: Callable[[str], None]) -> None:
        limit = self.settings.check_interval + self.settings.check_timeout
        while not self._closed.wait(_WATCHDOG_TICK):
            late = self.clock() - self._last_ok
            if late > limit:
                lost(f"no successful lock check for {late:.1f} s")
                return

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        """A clean stop: end the guards, then the session (PostgreSQL releases the lock)."""
        self._closed.set()
        for thread in self._threads:
            thread.join(self.settings.check_timeout + 1)
        self._drop()


def fence(reason: str) -> None:
    """Stop acting at once: the lock may be someone else's now. No cleanup that could still
    reach a PBX; the kernel closes every socket."""
    log.critical("ha: lost the active lock (%s): exiting so two engines never act together", reason)
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    os._exit(EXIT_FENCED)


def standby_app(lease: Lease, prepared: Callable[[], bool]) -> web.Application:
    """What a standby serves: health that says its role (not ready: it takes no traffic) and
    whether it is `prepared` (what it loads ahead is loaded: a takeover now is quickest)."""

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
                "prepared": prepared(),
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
