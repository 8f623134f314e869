"""No citizen's phone or ID-card number reaches a log handler (GB/T 44192 8.2).

`MaskingFilter` rewrites each record's final message (`msg % args`), its exception text, its
stack text and the text fields a logger added with `extra=` through
`callcenter.masking.mask_text`, and blanks the value of an `access_token=` query parameter (a
browser's websocket sends its API token so). Attached to a handler it sees every record the
handler emits, including those propagated from child loggers (a filter on a logger would only
see records logged to that very logger): aiohttp's access log (`aiohttp.access`, one line per
request with its query string, e.g. `?caller_number=...`) reaches the root handlers so, and
its `extra` fields (`first_request_line`, headers) are masked too.

`install()` adds the filter to every handler the root logger has at that moment: the CLI calls
it right after `logging.basicConfig(...)`; a handler added later needs `install()` again (it
never adds the filter twice). Records emitted by `logging.lastResort` (no handler configured
at all) are not filtered.
"""

from __future__ import annotations

import logging
import re

from callcenter.masking import mask_text

# The attributes every LogRecord has; any other one came from `extra=`.
_STANDARD = frozenset(
    (*logging.LogRecord("", 0, "", 0, "", (), None).__dict__, "message", "asctime", "taskName")
)
_TOKEN = re.compile(r"(?<=[?&;]access_token=)[^&;\s\"']+")


def _clean(text: str) -> str:
    return _TOKEN.sub("***", mask_text(text))


class MaskingFilter(logging.Filter):
    """Masks phone and ID-card numbers (and API tokens in a URL) in the message, exception and
    stack text and the text `extra` fields; never drops a record."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format must not leak the raw arguments
            message = f"{record.msg} {record.args!r}"
        record.msg = _clean(message)
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _clean(record.exc_text)
        if record.stack_info:
            record.stack_info = _clean(record.stack_info)
        for name, value in list(record.__dict__.items()):
            if name in _STANDARD:
                continue
            if isinstance(value, str):
                setattr(record, name, _clean(value))
            elif isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
                setattr(record, name, {k: _clean(v) for k, v in value.items()})
        return True


def install(logger: logging.Logger | None = None) -> MaskingFilter:
    """Add the masking filter to every handler of `logger` (default: the root logger) that
    lacks one; returns the filter in use."""
    target = logger if logger is not None else logging.getLogger()
    masking = MaskingFilter()
    for handler in target.handlers:
        present = [f for f in handler.filters if isinstance(f, MaskingFilter)]
        if present:
            masking = present[0]
            continue
        handler.addFilter(masking)
    return masking
