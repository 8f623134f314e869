"""No citizen's phone or ID-card number reaches a log handler (GB/T 44192 8.2).

`MaskingFilter` rewrites each record's final message (`msg % args`), its exception text and
its stack text through `callcenter.masking.mask_text`. Attached to a handler it sees every
record the handler emits, including those propagated from child loggers (a filter on a logger
would only see records logged to that very logger).

`install()` adds the filter to every handler the root logger has at that moment: the CLI calls
it right after `logging.basicConfig(...)`; a handler added later needs `install()` again (it
never adds the filter twice). Records emitted by `logging.lastResort` (no handler configured
at all) are not filtered.
"""

from __future__ import annotations

import logging

from callcenter.masking import mask_text


class MaskingFilter(logging.Filter):
    """Masks mobile and ID-card numbers in the message, exception and stack text; never drops
    a record."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format must not leak the raw arguments
            message = f"{record.msg} {record.args!r}"
        record.msg = mask_text(message)
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
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
