"""Shared test setup: the repository root on sys.path (for tools/), the test PostgreSQL."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests import private_postgres  # noqa: E402 - needs the path above

# PostgreSQL for the storage tests: the server CALLCENTER_TEST_PG_URL names, or else a private
# throwaway cluster started for this run (tests/private_postgres.py), so a fresh machine needs no
# database set up by hand. Started before collection, since tests/storage reads the URL then.
_PRIVATE_PG: list[private_postgres.PrivatePostgres] = []


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get(private_postgres.URL_ENV):
        return
    try:
        pg = private_postgres.start()
    except private_postgres.PrivatePostgresError as exc:
        raise pytest.UsageError(str(exc)) from exc
    _PRIVATE_PG.append(pg)
    os.environ[private_postgres.URL_ENV] = pg.url


def pytest_unconfigure(config: pytest.Config) -> None:
    while _PRIVATE_PG:
        pg = _PRIVATE_PG.pop()
        os.environ.pop(private_postgres.URL_ENV, None)
        pg.stop()
