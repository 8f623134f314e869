"""A throwaway PostgreSQL cluster for the test session, so `make test` needs no database the user
set up: initdb into a temporary folder, start it on a free loopback port with durability off (a
test database that dies with the run), create database `test`, and remove it all at the end.

Debian's `postgresql` package provides the binaries (`tools/setup.sh` installs it). When
`CALLCENTER_TEST_PG_URL` names a server, that server is used instead and nothing is started.
Anything missing or failing raises `PrivatePostgresError` with one line saying what, so the run
stops loudly instead of skipping the PostgreSQL half of the storage tests.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

URL_ENV = "CALLCENTER_TEST_PG_URL"


class PrivatePostgresError(RuntimeError):
    pass


def _bindir() -> Path:
    """The newest installed server's bin folder (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise PrivatePostgresError(
        "no PostgreSQL server binaries (initdb) found: install Debian's `postgresql` package "
        f"(tools/setup.sh does) or set {URL_ENV} to a server's URL"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class PrivatePostgres:
    """One running throwaway cluster; `url` is an SQLAlchemy URL to its `test` database."""

    datadir: Path
    port: int
    bindir: Path
    run_as: str | None  # the OS user the server runs as (initdb refuses root)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://root@127.0.0.1:{self.port}/test"

    def _run(self, *args: str, timeout: float = 120.0) -> None:
        cmd = list(args)
        if self.run_as is not None:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise PrivatePostgresError(
                f"{Path(args[0]).name} failed ({proc.returncode}): "
                + (detail[-1] if detail else "no output")
            )

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-m",
                "immediate",
                "-w",
                "stop",
                timeout=60.0,
            )
        shutil.rmtree(self.datadir, ignore_errors=True)


def start() -> PrivatePostgres:
    """initdb, start and create database `test`; about 3 s. Raises PrivatePostgresError."""
    bindir = _bindir()
    run_as: str | None = None
    datadir = Path(tempfile.mkdtemp(prefix="callcenter-pg-"))
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise PrivatePostgresError(
                "running as root, and there is no `postgres` user to run the test server as "
                "(Debian's `postgresql` package creates it)"
            ) from exc
        os.chown(datadir, user.pw_uid, user.pw_gid)
        run_as = "postgres"
    pg = PrivatePostgres(datadir=datadir, port=_free_port(), bindir=bindir, run_as=run_as)
    try:
        pg._run(
            str(bindir / "initdb"),
            "-D",
            str(datadir),
            "-U",
            "root",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        options = " ".join(
            [
                f"-p {pg.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={datadir}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
            ]
        )
        pg._run(
            str(bindir / "pg_ctl"),
            "-D",
            str(datadir),
            "-l",
            str(datadir / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        pg._run(
            str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(pg.port), "-U", "root", "test"
        )
    except (PrivatePostgresError, OSError, subprocess.TimeoutExpired) as exc:
        log = datadir / "server.log"
        tail = ""
        with contextlib.suppress(OSError):
            tail = " | ".join(log.read_text("utf-8", "replace").strip().splitlines()[-3:])
        pg.stop()
        raise PrivatePostgresError(
            f"could not start the private test PostgreSQL: {exc}" + (f" ({tail})" if tail else "")
        ) from exc
    return pg


@contextlib.contextmanager
def fresh_database(base_url: str, prefix: str = "cc_test") -> Iterator[str]:
    """A database of its own on the server of `base_url` (created, then dropped with every
    connection still on it): its URL."""
    from sqlalchemy import create_engine, text

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception:
        admin.dispose()
        raise
    try:
        yield base_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
