"""Masking by role and grade (GB/T 44192 8): what each role sees of each field.

`config/protection.toml` [masking] says, for each role and grade, "clear", "mask" or "hide";
the catalogue (`config/catalog.toml`) gives each field its grade and kind; a `Redactor` for one
role applies both to values and rows, and tells which sensitive fields a read exposed (what
the data access log lists).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from callcenter.config_models import Checked, FileModel, Str, validate
from callcenter.data.catalog import Annotations
from callcenter.data.grades import Grade, Kind
from callcenter.masking import mask_id_card, mask_phone, mask_text
from callcenter.tomlreader import ConfigError, ConfigErrors

ROLES = ("agent", "supervisor", "department", "admin", "auditor")


class Action(StrEnum):
    CLEAR = "clear"
    MASK = "mask"
    HIDE = "hide"


@dataclass(frozen=True)
class MaskingPolicy:
    rules: Mapping[tuple[str, Grade], Action]

    def action(self, role: str, grade: Grade) -> Action:
        found = self.rules.get((role, grade))
        if found is None:
            raise ValueError(f"no masking rule for role {role!r} and grade {grade.value!r}")
        return found

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(role for role, _ in self.rules))


def load_policy(path: Path) -> MaskingPolicy:
    """The [masking] table of protection.toml: every role, every grade, one action each."""
    file = f"{path.parent.name}/{path.name}" if path.parent.name else path.name
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(file, "", f"cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, "", f"is not valid TOML: {exc}") from exc
    return parse_policy(data, file)


def _action(value: str) -> str | None:
    actions = [a.value for a in Action]
    return None if value in actions else f"{value!r} is not one of {', '.join(actions)}"


ActionName = Annotated[Str, Checked(_action, enum=[a.value for a in Action])]


class GradeActions(FileModel):
    """One role: an action for each grade (config/catalog.toml grades the fields)."""

    public: ActionName
    internal: ActionName
    sensitive: ActionName
    core: ActionName


class MaskingTable(FileModel):
    """[masking]: one table per role."""

    agent: GradeActions
    supervisor: GradeActions
    department: GradeActions
    admin: GradeActions
    auditor: GradeActions


class ProtectionFile(FileModel):
    """protection.toml: what each role sees of each grade of data (GB/T 44192 8)."""

    masking: MaskingTable
    retention: Any = None  # [[retention]] is read elsewhere


_GRADES = ", ".join(g.value for g in Grade)
# what a missing table is said with: "is required" and what it holds
_REQUIRED = {
    "masking": "is required (one table per role)",
    **{f"masking.{role}": f"is required (an action for each grade: {_GRADES})" for role in ROLES},
}


def parse_policy(data: Mapping[str, Any], file: str) -> MaskingPolicy:
    try:
        masking = validate(ProtectionFile, data, file).masking
    except ConfigErrors as exc:
        raise ConfigErrors(
            [
                ConfigError(e.file, e.key, _REQUIRED[e.key])
                if e.message == "is required" and e.key in _REQUIRED
                else e
                for e in exc.errors
            ]
        ) from None
    return MaskingPolicy(
        {
            (role, grade): Action(getattr(getattr(masking, role), grade.value))
            for role in ROLES
            for grade in Grade
        }
    )


# --- masking by kind -------------------------------------------------------------------------

# Road or street level first; a town or village only when there is no street.
_STREET = re.compile(r"街道|大道|路|街|巷|胡同|弄")
_TOWN = re.compile(r"镇|乡|村")
MASK = "****"


def mask_name(name: str) -> str:
    """张** : the family name stays, the rest is starred."""
    value = name.strip()
    if len(value) <= 1:
        return "*" * len(value)
    return value[0] + "*" * (len(value) - 1)


def mask_address(address: str) -> str:
    """Kept up to the road or street (or else town or village), the rest starred; without
    either, at most the first 6 characters and never more than half."""
    value = address.strip()
    if not value:
        return ""
    found = _STREET.search(value) or _TOWN.search(value)
    keep = found.end() if found else min(6, len(value) // 2)
    return value[:keep] + MASK


def mask_uscc(code: str) -> str:
    """A unified social credit code keeps its first 8 and last 2 characters."""
    value = code.strip()
    if len(value) < 10:
        return "*" * len(value)
    return value[:8] + "*" * (len(value) - 10) + value[-2:]


def mask_value(kind: Kind, value: object) -> object | None:
    """The masked form of a value of this kind; None for a secret (never shown)."""
    if value is None or kind is Kind.SECRET:
        return None
    if kind is Kind.PLAIN:
        return "***"
    text = str(value)
    if kind is Kind.PHONE:
        return mask_phone(text)
    if kind is Kind.ID_CARD:
        return mask_id_card(text)
    if kind is Kind.NAME:
        return mask_name(text)
    if kind is Kind.ADDRESS:
        return mask_address(text)
    if kind is Kind.USCC:
        return mask_uscc(text)
    return mask_text(text)


# --- the redactor ----------------------------------------------------------------------------


class Redactor:
    """What one role sees of the catalogued fields."""

    def __init__(self, policy: MaskingPolicy, annotations: Annotations, role: str) -> None:
        if role not in policy.roles:
            raise ValueError(f"unknown role {role!r} (roles: {', '.join(policy.roles)})")
        self.policy = policy
        self.annotations = annotations
        self.role = role

    def action(self, table: str, column: str) -> Action:
        """The action for this field; a secret is hidden whatever the policy says."""
        note = self.annotations.field(table, column)
        if note.kind is Kind.SECRET:
            return Action.HIDE
        return self.policy.action(self.role, note.grade)

    def value(self, table: str, column: str, value: object) -> object | None:
        """The value as this role sees it; None when the field is hidden from it."""
        action = self.action(table, column)
        if action is Action.CLEAR:
            return value
        if action is Action.HIDE:
            return None
        return mask_value(self.annotations.field(table, column).kind, value)

    def row(self, table: str, mapping: Mapping[str, object]) -> dict[str, object]:
        """The row as this role sees it: hidden fields are left out."""
        out: dict[str, object] = {}
        for column, value in mapping.items():
            action = self.action(table, column)
            if action is Action.HIDE:
                continue
            out[column] = (
                value
                if action is Action.CLEAR
                else mask_value(self.annotations.field(table, column).kind, value)
            )
        return out

    def fields_read(self, table: str, columns: Iterable[str]) -> list[str]:
        """The sensitive or core fields among these that this role is shown (masked or not):
        what a data access log entry lists."""
        return [
            column
            for column in columns
            if self.annotations.field(table, column).grade.rank >= Grade.SENSITIVE.rank
            and self.action(table, column) is not Action.HIDE
        ]


__all__ = [
    "ROLES",
    "Action",
    "MaskingPolicy",
    "ProtectionFile",
    "Redactor",
    "load_policy",
    "mask_address",
    "mask_name",
    "mask_uscc",
    "mask_value",
    "parse_policy",
]
