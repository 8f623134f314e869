"""The `database` fixture runs each storage test on SQLite and on PostgreSQL.

PostgreSQL (127.0.0.1:5432, database `test`, or CALLCENTER_TEST_PG_URL) must be reachable:
a test that cannot reach it fails with the reason, it never skips.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from callcenter.data.crypto import FILE_ENV, write_key_file
from callcenter.storage.database import Database
from tests.private_postgres import fresh_database

REPO = Path(__file__).resolve().parents[2]

PG_URL = os.environ.get("CALLCENTER_TEST_PG_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'cc.db'}")
        yield db
        db.close()
        return
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(fresh_database(PG_URL))
        except Exception as exc:  # noqa: BLE001 - the reason goes into the failure
            pytest.fail(f"PostgreSQL is not reachable at {PG_URL}: {exc}")
        db = Database(url)
        try:
            yield db
        finally:
            db.close()


@pytest.fixture
def keyed_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of config/ to change freely, with a data key file in the environment (as the
    service's child processes need)."""
    keys = tmp_path / "keys.toml"
    write_key_file(keys)
    monkeypatch.setenv(FILE_ENV, str(keys))
    target = tmp_path / "config"
    shutil.copytree(REPO / "config", target)
    return target
