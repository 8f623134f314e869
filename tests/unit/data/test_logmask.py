"""Log masking: no mobile or ID-card number reaches a handler, in the message, its arguments,
an exception or the stack; masking twice changes nothing; longer digit strings stay whole."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from callcenter.data.logmask import MaskingFilter, install

MOBILE = "13812345678"
ID_CARD = "11010519491231002X"
CALL_ID = "17312345678901234567"  # 20 digits: holds an 11-digit "mobile" inside


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A real logger with a real StreamHandler writing to a StringIO, the filter installed."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger(f"test.logmask.{id(out)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    install(logger)
    yield logger, out
    logger.removeHandler(handler)


@pytest.mark.parametrize(
    ("msg", "args", "shown", "hidden"),
    [
        ("caller %s waiting", (MOBILE,), "caller 138****5678 waiting", MOBILE),
        ("id %s", (ID_CARD,), "id 110105********002X", ID_CARD),
        (f"inline {MOBILE}", (), "inline 138****5678", MOBILE),
        ("%s and %s", (MOBILE, ID_CARD), "138****5678 and 110105********002X", ID_CARD),
        ("ticket %(number)s", ({"number": MOBILE},), "ticket 138****5678", MOBILE),
        ("call %s", (CALL_ID,), f"call {CALL_ID}", "138****"),
        ("done 100%%", (), "done 100%", MOBILE),
        ("raw % sign with number " + MOBILE, (), "raw % sign with number 138****5678", MOBILE),
    ],
)
def test_messages_and_arguments_are_masked(
    captured: tuple[logging.Logger, io.StringIO],
    msg: str,
    args: tuple[object, ...],
    shown: str,
    hidden: str,
) -> None:
    logger, out = captured
    logger.info(msg, *args)
    text = out.getvalue()
    assert shown in text
    assert hidden not in text


def test_exception_text_is_masked(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = captured
    try:
        raise ValueError(f"bad caller {MOBILE} with id {ID_CARD}")
    except ValueError:
        logger.exception("lookup failed for %s", MOBILE)
    text = out.getvalue()
    assert "Traceback" in text
    assert "ValueError: bad caller 138****5678 with id 110105********002X" in text
    assert "lookup failed for 138****5678" in text
    assert MOBILE not in text
    assert ID_CARD not in text


def test_stack_info_is_masked(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = captured

    def deep(number: str) -> None:
        logger.warning("here %s", number, stack_info=True)  # the call line holds no number

    deep(MOBILE)
    assert "Stack (most recent call last)" in out.getvalue()
    assert MOBILE not in out.getvalue()


def test_bad_format_arguments_do_not_leak(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = captured
    logger.info("two %s %s", MOBILE)  # one argument short
    assert MOBILE not in out.getvalue()
    assert "138****5678" in out.getvalue()


def test_masking_is_idempotent() -> None:
    masking = MaskingFilter()
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "a %s b %s", (MOBILE, ID_CARD), None)
    assert masking.filter(record)
    once = record.getMessage()
    assert masking.filter(record)
    assert record.getMessage() == once == "a 138****5678 b 110105********002X"


def test_install_covers_every_root_handler_once() -> None:
    root = logging.getLogger()
    before = {h: list(h.filters) for h in root.handlers}  # pytest's own capture handlers
    outs = [io.StringIO(), io.StringIO()]
    handlers = [logging.StreamHandler(o) for o in outs]
    for h in handlers:
        root.addHandler(h)
    try:
        first = install()
        second = install()
        assert first is second
        for h in handlers:
            assert sum(isinstance(f, MaskingFilter) for f in h.filters) == 1
        logging.getLogger("callcenter.some.child").warning("caller %s", MOBILE)
        for o in outs:
            assert "caller 138****5678" in o.getvalue()
            assert MOBILE not in o.getvalue()
    finally:
        for h in handlers:
            root.removeHandler(h)
        for kept, filters in before.items():
            kept.filters = filters
