"""Reading a config file's TOML, and the config errors: one mistake (`ConfigError`: the file,
the dotted key, what is wrong) and every mistake of one load (`ConfigErrors`). The files'
typed models (callcenter/config_models.py) report through them."""

from __future__ import annotations

import tomllib
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
