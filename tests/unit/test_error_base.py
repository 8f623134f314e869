"""One error base: every exception class the package defines derives from
`callcenter.errors.CallcenterError`, so each carries its HTTP status and a stable error_id and
the API's edge maps it in one place (an error of the routing core, `acd/`, is mapped by a table
of its own: acd/ imports nothing of the package)."""

from __future__ import annotations

import importlib
import inspect

from callcenter.errors import CallcenterError
from callcenter.paths import REPO

PACKAGE = REPO / "callcenter"
# Migration scripts run against a database when imported (alembic loads them by path).
SKIPPED = ("callcenter.storage.migrations",)
# Exception classes that must not derive from CallcenterError, each with its reason. Empty:
# keep it short.
ALLOWED: dict[str, str] = {}


def module_names() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        name = ".".join(parts)
        if parts[-1] != "__main__" and not name.startswith(SKIPPED):
            names.append(name)
    return names


def exception_classes(module_name: str) -> list[type[BaseException]]:
    """The exception classes `module_name` defines (not those it imports)."""
    module = importlib.import_module(module_name)
    return [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, BaseException) and cls.__module__ == module_name
    ]


def test_every_exception_class_derives_from_the_error_base() -> None:
    found: list[type[BaseException]] = []
    for name in module_names():
        found.extend(exception_classes(name))
    assert len(found) > 30  # the scan sees the package's errors
    strays = [
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in found
        if not issubclass(cls, CallcenterError)
        and f"{cls.__module__}.{cls.__qualname__}" not in ALLOWED
    ]
    assert not strays, f"derive these from callcenter.errors.CallcenterError: {strays}"


def test_each_error_has_a_status_and_an_error_id_of_its_own_family() -> None:
    from callcenter.pbx.base import PbxError, SandboxError
    from callcenter.pbx.freeswitch.emergency import EmergencyTargetError
    from callcenter.pbx.freeswitch.esl import EslConnectionLost, EslError

    assert issubclass(SandboxError, PbxError) and SandboxError.status == 500
    assert EslError.status == 502 and EslConnectionLost.status == 503
    assert EslConnectionLost("gone").body() == {"error_id": "pbx.esl.lost", "message": "gone"}
    # still a ValueError: code that catches a bad value catches it
    assert issubclass(EmergencyTargetError, ValueError)
