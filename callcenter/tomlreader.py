"""Reading TOML tables with every mistake collected: the file, the dotted key, what is wrong.

Every config loader (center config, ticket settings, outbound calling) uses `TableReader`,
so one run reports all mistakes at once.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from callcenter.errors import CallcenterError


class ConfigError(CallcenterError):
    error_id = "config.invalid"

    def __init__(self, file: str, key: str, message: str) -> None:
        self.file = file
        self.key = key
        self.message = message
        super().__init__(f"{file}: {key}: {message}" if key else f"{file}: {message}")


class ConfigErrors(ConfigError):
    """Every mistake of one load."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        first = errors[0]
        super().__init__(first.file, first.key, first.message)
        self.args = ("\n".join(str(e) for e in errors),)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


Check = Callable[[Any], str | None]  # returns a problem, or None


class TableReader:
    """Collects errors while reading TOML tables (every config loader uses it); `get` never
    raises, so one run reports every mistake with its file and key."""

    def __init__(self) -> None:
        self.errors: list[ConfigError] = []
        self.file = ""

    def error(self, key: str, message: str) -> None:
        self.errors.append(ConfigError(self.file, key, message))

    def table(self, data: Any, key: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if data is None:
            return {}
        if not isinstance(data, dict):
            self.error(key, f"must be a table, got {type(data).__name__}")
            return {}
        for name in data:
            if name not in allowed:
                self.error(
                    f"{key}.{name}" if key else name, f"unknown key (allowed: {', '.join(allowed)})"
                )
        return data

    def tables(self, data: Any, key: str) -> list[dict[str, Any]]:
        if data is None:
            return []
        if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
            self.error(key, "must be an array of tables ([[" + key + "]])")
            return []
        return data

    def get(
        self,
        table: Mapping[str, Any],
        prefix: str,
        name: str,
        kind: type | tuple[type, ...],
        default: Any = None,
        required: bool = False,
        check: Check | None = None,
    ) -> Any:
        key = f"{prefix}.{name}" if prefix else name
        if name not in table:
            if required:
                self.error(key, "is required")
            return default
        value = table[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and bool not in kinds:
            self.error(key, f"must be {_kind_names(kinds)}, got a boolean")
            return default
        if not isinstance(value, kinds):
            self.error(key, f"must be {_kind_names(kinds)}, got {type(value).__name__} {value!r}")
            return default
        if check is not None:
            problem = check(value)
            if problem:
                self.error(key, problem)
                return default
        return value


def read_toml(path: Path) -> dict[str, Any]:
    """The file's tables; ConfigErrors naming the file when it is missing, unreadable or not
    TOML."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigErrors([ConfigError(str(path), "", "file not found")]) from None
    except OSError as exc:
        raise ConfigErrors([ConfigError(str(path), "", f"cannot read: {exc.strerror}")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigErrors([ConfigError(str(path), "", f"not valid TOML: {exc}")]) from None


def _kind_names(kinds: tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        list: "an array",
        dict: "a table",
        date: "a date (2026-01-01)",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)
