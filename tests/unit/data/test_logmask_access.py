"""aiohttp's access log goes through the log masking: a request's query string with a phone
or ID number (and a websocket's `access_token`) reaches the root handlers masked, in the line
and in the `extra` fields a formatter or a JSON handler could print."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callcenter.data.logmask import MaskingFilter, install


class Extras(logging.Handler):
    """Keeps each record's request line as aiohttp passes it in `extra`."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(str(getattr(record, "first_request_line", "")))


@pytest.fixture
def root_handlers() -> Iterator[tuple[io.StringIO, Extras]]:
    """Two root handlers as the CLI sets them up (`basicConfig` + `install`), aiohttp's access
    logger at INFO as it is under the CLI."""
    root = logging.getLogger()
    before = {h: list(h.filters) for h in root.handlers}
    out = io.StringIO()
    stream = logging.StreamHandler(out)
    stream.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    extras = Extras()
    access = logging.getLogger("aiohttp.access")
    level = access.level
    access.setLevel(logging.INFO)
    for h in (stream, extras):
        root.addHandler(h)
    install()
    try:
        yield out, extras
    finally:
        access.setLevel(level)
        for h in (stream, extras):
            root.removeHandler(h)
        for kept, filters in before.items():
            kept.filters = filters


async def ok(request: web.Request) -> web.Response:
    return web.json_response({})


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("phone=13800138000", "phone=138****8000", "13800138000"),
        ("caller_number=%2B86+138+0013+8000", "caller_number=%2B86+138+****+8000", "0013"),
        ("phone=010-62345678", "phone=010-****5678", "62345678"),
        ("id_card=110105491231002", "id_card=110105*****1002", "491231"),
        ("access_token=s3cret-T0ken&x=1", "access_token=***&x=1", "s3cret"),
    ],
)
async def test_access_log_lines_are_masked(
    root_handlers: tuple[io.StringIO, Extras], query: str, shown: str, hidden: str
) -> None:
    out, extras = root_handlers
    app = web.Application()
    app.router.add_get("/api/look", ok)
    async with TestClient(TestServer(app)) as client:  # the default access logger
        resp = await client.get(f"/api/look?{query}")
        assert resp.status == 200
    text = out.getvalue()
    assert "aiohttp.access" in text and f"GET /api/look?{shown} HTTP/1.1" in text
    assert hidden not in text
    [line] = extras.lines
    assert shown in line and hidden not in line


def test_text_extras_are_masked() -> None:
    record = logging.makeLogRecord(
        {
            "msg": "m",
            "first_request_line": "GET /?phone=13800138000 HTTP/1.1",
            "request_header": {"Referer": "/x?phone=13800138000"},
            "status": 200,
        }
    )
    assert MaskingFilter().filter(record)
    assert record.__dict__["first_request_line"] == "GET /?phone=138****8000 HTTP/1.1"
    assert record.__dict__["request_header"] == {"Referer": "/x?phone=138****8000"}
    assert record.__dict__["status"] == 200
