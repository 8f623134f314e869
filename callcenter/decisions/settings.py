"""config/decisions.toml: where the decision log is written and how long it is kept."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic.dataclasses import dataclass

from callcenter.config_models import STRICT, Bool, Checked, FileModel, OneOrMore, Str, load_model

FILE = "decisions.toml"


@dataclass(frozen=True, config=STRICT)
class DecisionSettings:
    enabled: Bool = True
    # relative paths are under the engine's working folder
    directory: Annotated[Str, Checked(lambda v: None if v else "must not be empty")] = (
        "var/decisions"
    )
    keep_days: OneOrMore = 30
    queue_size: OneOrMore = 20_000  # records waiting for the writer; beyond it they are dropped
    top: OneOrMore = 5  # agents listed per decision (candidates, or agents who could not take it)

    def path(self, workdir: Path) -> Path:
        p = Path(self.directory)
        return p if p.is_absolute() else workdir / p


class DecisionsFile(FileModel):
    """decisions.toml: the decision log (`callcenter explain`)."""

    decisions: DecisionSettings = DecisionSettings()


def load_decision_settings(config_dir: Path) -> DecisionSettings:
    """The settings of `config_dir/decisions.toml` (the defaults when there is none);
    ConfigErrors naming the file and every wrong key."""
    return load_model(DecisionsFile, config_dir / FILE, FILE, missing=DecisionsFile()).decisions
