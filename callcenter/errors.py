"""The one error base of the engine: every error a client may see carries its HTTP status, a
stable `error_id` and, where they help, `details` (e.g. one entry per bad field).

Feature packages derive their error roots from `CallcenterError` and set `status` and
`error_id` on each class (or on the instance); the API's edge (`callcenter/api/errors.py`)
maps every one of them to its JSON response in one place. This module imports nothing of the
package, so every layer may use it. The routing core (`acd/`) stays free of the package: its
`AcdError` is mapped at the edge by a table of its own.
"""

from __future__ import annotations

from typing import Any


class CallcenterError(Exception):
    """An error with an HTTP `status`, a stable `error_id` and optional `details`; the
    message is `str(error)`. Subclasses set `status` and `error_id` as class attributes; the
    keyword arguments override them for one instance."""

    status: int = 500
    error_id: str = "callcenter.error"
    details: Any = None

    def __init__(
        self,
        *args: object,
        status: int | None = None,
        error_id: str | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(*args)
        if status is not None:
            self.status = status
        if error_id is not None:
            self.error_id = error_id
        if details is not None:
            self.details = details

    def body(self) -> dict[str, Any]:
        """The JSON body the API answers with: `error_id`, `message` and, when there are
        any, `details`."""
        out: dict[str, Any] = {"error_id": self.error_id, "message": str(self)}
        if self.details is not None:
            out["details"] = self.details
        return out


__all__ = ["CallcenterError"]
