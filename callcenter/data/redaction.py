"""Redaction of rows read from the database: each field as a role sees it, and which fields a
read showed in clear (what the data access log lists), after the masking policy of
config/protection.toml and the grades and kinds of config/catalog.toml (GB/T 44192 8).

`redactor(config_dir, role)` builds the role's `Redactor` from the two files (the policy read
again when the file changes); `shown` applies it to a row's values, masking the JSON columns
string by string; `read_in_clear` names the sensitive fields a read exposed.
"""

from __future__ import annotations

import functools
from pathlib import Path

from callcenter.data.catalog import load_annotations
from callcenter.data.protection import Action, MaskingPolicy, Redactor, load_policy

# The catalogued columns that hold JSON: masked leaf by leaf, the structure kept.
JSON_COLUMNS = frozenset(
    {("tickets", "proposal"), ("tickets", "state"), ("ticket_history", "details")}
)


def redactor(config_dir: Path, role: str) -> Redactor:
    """What `role` sees of each catalogued field: the masking policy of protection.toml and
    the grades and kinds of catalog.toml in `config_dir` (both read again when changed)."""
    path = config_dir / "protection.toml"
    policy = _policy(path, path.stat().st_mtime)
    return Redactor(policy, load_annotations(config_dir / "catalog.toml"), role)


@functools.lru_cache(maxsize=4)
def _policy(path: Path, mtime: float) -> MaskingPolicy:
    return load_policy(path)


def _masked_json(redact: Redactor, table: str, column: str, value: object) -> object:
    """A JSON value masked by its column's kind, leaf by leaf: strings (and numbers that
    masking would change, such as a phone number stored as a number) masked, the structure
    and every other value kept, so a client reads the same keys."""
    if isinstance(value, dict):
        return {k: _masked_json(redact, table, column, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked_json(redact, table, column, v) for v in value]
    if isinstance(value, str):
        return redact.value(table, column, value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        masked = redact.value(table, column, str(value))
        return value if masked == str(value) else masked
    return value


def shown(redact: Redactor, table: str, values: dict[str, object]) -> dict[str, object]:
    """The fields as the role sees them (`Redactor.row`, with JSON columns masked inside):
    a hidden field is left out."""
    out: dict[str, object] = {}
    for column, value in values.items():
        action = redact.action(table, column)
        if action is Action.HIDE:
            continue
        if action is Action.CLEAR:
            out[column] = value
        elif (table, column) in JSON_COLUMNS:
            out[column] = _masked_json(redact, table, column, value)
        else:
            out[column] = redact.value(table, column, value)
    return out


def read_in_clear(redact: Redactor, table: str, values: dict[str, object]) -> list[str]:
    """The sensitive (or core) fields among these, with a value, that the role is shown in
    clear: what the data access log lists (a masked or hidden field reveals nothing)."""
    filled = [column for column, value in values.items() if value not in (None, "", {}, [])]
    return [c for c in redact.fields_read(table, filled) if redact.action(table, c) is Action.CLEAR]
