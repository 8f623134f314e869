"""SIP passwords of the agents' and supervisors' phones, from a store the operator controls.

center.toml `[phones]` names it: `secrets_file`, a TOML file of `"extension" = "password"`
lines that only its owner may read (mode 0600; anything readable by group or others is
refused), and/or `env_prefix`, environment variables `<prefix><extension>`. The file wins
when both hold a password. `callcenter agents secrets generate` writes a random password for
every phone that has none, never replacing one. A production render (`callcenter dialplan
render`) takes every phone's password from here and refuses to write one empty.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path

from callcenter.config import Config
from callcenter.tomlreader import ConfigError

FILE = "center.toml"
MIN_LENGTH = 8
# what a PBX config file can hold as a value: no whitespace, no ';' (a comment) or '#', no quotes
_USABLE = re.compile(r"^[!$%&()*+,\-./0-9:<=>?@A-Z\[\]^_`a-z{|}~]+$")


def phones(config: Config) -> list[tuple[str, str]]:
    """(extension, who) of every phone that registers: agents, then supervisors."""
    found = [(a.extension, f"agent {a.id} ({a.name})") for a in config.agents]
    found += [(x.extension, f"supervisor {x.id} ({x.name})") for x in config.supervisors]
    return found


def secrets_path(config: Config, base: Path | None = None) -> Path | None:
    """The secrets file (relative paths are from `base`, the working directory)."""
    name = config.phone_secrets.secrets_file
    if not name:
        return None
    path = Path(name)
    return path if path.is_absolute() else (base or Path.cwd()) / path


def read_file(path: Path) -> dict[str, str]:
    """The passwords in a secrets file; a file others may read, or a broken one, is a
    config error naming it."""
    key = "phones.secrets_file"
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return {}
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            FILE,
            key,
            f"{path} is open to other users (mode {stat.S_IMODE(mode):04o}); "
            f"it holds SIP passwords: chmod 600 {path}",
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(FILE, key, f"{path}: not a valid TOML file: {exc}") from exc
    bad = sorted(k for k, v in data.items() if not isinstance(v, str))
    if bad:
        raise ConfigError(FILE, key, f"{path}: not a password string: {', '.join(bad)}")
    return dict(data)


def phone_passwords(
    config: Config, environ: Mapping[str, str] | None = None, base: Path | None = None
) -> dict[str, str]:
    """extension -> SIP password of every phone. Any phone without a usable one is a config
    error naming it and where its password was looked for."""
    env = os.environ if environ is None else environ
    store = config.phone_secrets
    path = secrets_path(config, base)
    if path is None and not store.env_prefix:
        raise ConfigError(
            FILE,
            "phones",
            "no store for the phones' SIP passwords: set secrets_file (and run "
            "`callcenter agents secrets generate`) or env_prefix",
        )
    in_file = read_file(path) if path is not None else {}
    found: dict[str, str] = {}
    problems: list[str] = []
    for extension, who in phones(config):
        where = []
        if path is not None:
            where.append(f'"{extension}" in {path}')
        if store.env_prefix:
            where.append(f"environment variable {store.env_prefix}{extension}")
        value = in_file.get(extension, "")
        if not value and store.env_prefix:
            value = env.get(f"{store.env_prefix}{extension}", "")
        if not value:
            looked = " or ".join(where)
            problems.append(f"no SIP password for {who}, extension {extension} ({looked})")
        elif len(value) < MIN_LENGTH or not _USABLE.match(value):
            problems.append(
                f"the SIP password of {who} must be at least {MIN_LENGTH} characters with no "
                "spaces, quotes, ';' or '#'"
            )
        else:
            found[extension] = value
    if problems:
        raise ConfigError(FILE, "phones", "; ".join(problems))
    return found


def generate(config: Config, base: Path | None = None) -> tuple[Path, list[str]]:
    """Add a random password for every phone the secrets file has none for (existing ones
    are kept as they are). Creates the file with mode 0600. Returns the file and the
    extensions added."""
    path = secrets_path(config, base)
    if path is None:
        raise ConfigError(
            FILE, "phones.secrets_file", "no secrets file to write: set secrets_file in [phones]"
        )
    existing = read_file(path)  # refuses a file others may read
    empty = sorted(ext for ext, value in existing.items() if not value)
    if empty:
        raise ConfigError(
            FILE,
            "phones.secrets_file",
            f"{path}: empty password for {', '.join(empty)}: delete those lines and run again",
        )
    missing = [ext for ext, _ in phones(config) if ext not in existing]
    if not missing:
        return path, []
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        if fresh:
            f.write(
                "# SIP passwords of the phones (callcenter agents secrets generate); "
                "keep mode 0600.\n"
            )
        for ext in missing:  # JSON strings are TOML basic strings
            f.write(f"{json.dumps(ext)} = {json.dumps(secrets.token_urlsafe(18))}\n")
    return path, missing
