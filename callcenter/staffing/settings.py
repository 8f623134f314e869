"""config/staffing.toml: the service target and the assumptions of the seat plan."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from callcenter.config_models import Checked, FileModel, Float, Int, load_model, one_of, validate
from callcenter.staffing.erlang import Target

FILE = "staffing.toml"
SOURCES = ("history", "fixed")


@dataclass(frozen=True)
class StaffingSettings:
    target: Target
    shrinkage: float = 0.3
    aht: str = "history"
    aht_seconds: float = 240.0
    wrapup_seconds: float = 15.0
    patience: str = "history"
    patience_seconds: float = 120.0
    history_weeks: int = 6


def _above_zero(v: float) -> str | None:
    return None if v > 0 else "must be above 0"


def _not_negative(v: float) -> str | None:
    return None if v >= 0 else "must not be negative"


Share = Annotated[
    Float,
    Checked(lambda v: None if 0 < v < 1 else "must be above 0 and below 1", exclusiveMinimum=0),
]
ShareOrZero = Annotated[
    Float, Checked(lambda v: None if 0 <= v < 1 else "must be 0 to <1", minimum=0)
]
Seconds = Annotated[Float, Checked(_not_negative, minimum=0)]
Duration = Annotated[Float, Checked(_above_zero, exclusiveMinimum=0)]
Source = Annotated[str, one_of(*SOURCES)]


class StaffingKeys(FileModel):
    service_level: Share = 0.8  # share answered within answer_within
    answer_within: Seconds = 20.0
    max_occupancy: ShareOrZero = 0.0  # 0: no cap
    max_abandon: ShareOrZero = 0.0  # 0: no cap
    max_asa: Seconds = 0.0  # 0: no cap
    shrinkage: ShareOrZero = 0.3
    aht: Source = "history"
    aht_seconds: Duration = 240.0
    wrapup_seconds: Seconds = 0.0
    patience: Source = "history"
    patience_seconds: Duration = 120.0
    history_weeks: Annotated[
        Int, Checked(lambda v: None if 1 <= v <= 52 else "1 to 52", minimum=1, maximum=52)
    ] = 6


class StaffingFile(FileModel):
    """staffing.toml: the service target and the seat plan's assumptions."""

    staffing: StaffingKeys = StaffingKeys()

    def settings(self) -> StaffingSettings:
        t = self.staffing
        return StaffingSettings(
            target=Target(
                t.service_level,
                t.answer_within,
                t.max_asa or None,
                t.max_occupancy or None,
                t.max_abandon or None,
            ),
            shrinkage=t.shrinkage,
            aht=t.aht,
            aht_seconds=t.aht_seconds,
            wrapup_seconds=t.wrapup_seconds,
            patience=t.patience,
            patience_seconds=t.patience_seconds,
            history_weeks=t.history_weeks,
        )


def parse_staffing(data: dict[str, Any], file: str) -> StaffingSettings:
    return validate(StaffingFile, data, file).settings()


def load_staffing(config_dir: str | Path) -> StaffingSettings:
    src = Path(config_dir)
    return load_model(StaffingFile, src / FILE, f"{src.name}/{FILE}").settings()
