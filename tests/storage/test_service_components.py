"""The service's supervisor on a real start: a component that cannot start (the HTTP port is
taken) is named in the log, and everything started before it is stopped again: no task of
the service is left running."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from callcenter.config import load_config
from callcenter.data.crypto import ephemeral_cipher
from callcenter.service import Service, ServiceOptions

REPO = Path(__file__).resolve().parents[2]


async def test_a_taken_http_port_stops_what_had_started(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        options = ServiceOptions(
            db_url=f"sqlite:///{tmp_path / 'cc.db'}",
            queue_log=str(tmp_path / "queue_log"),
            http_port=taken.getsockname()[1],
            secrets={"a": "not-used-no-pbx-is-reached"},
            workdir=tmp_path,
            cipher=ephemeral_cipher(),
        )
        service = Service(load_config(REPO / "config"), options)
        before = asyncio.all_tasks()
        with pytest.raises(OSError):
            await asyncio.wait_for(service.run(), 60)
    assert "component http failed to start" in caplog.text
    left = [t.get_name() for t in asyncio.all_tasks() - before if not t.done()]
    assert left == []  # storage, recordings, console ... all stopped
    assert (tmp_path / "queue_log").read_text().count("QUEUESTART") == 1
