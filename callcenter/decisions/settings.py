"""config/decisions.toml: where the decision log is written and how long it is kept."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from callcenter.tomlreader import ConfigErrors, TableReader, read_toml

FILE = "decisions.toml"


@dataclass(frozen=True)
class DecisionSettings:
    enabled: bool = True
    directory: str = "var/decisions"  # relative paths are under the engine's working folder
    keep_days: int = 30
    queue_size: int = 20_000  # records waiting for the writer; beyond it they are dropped
    top: int = 5  # agents listed per decision (candidates, or agents who could not take it)

    def path(self, workdir: Path) -> Path:
        p = Path(self.directory)
        return p if p.is_absolute() else workdir / p


def _at_least_one(value: int) -> str | None:
    return None if value >= 1 else "must be 1 or more"


def load_decision_settings(config_dir: Path) -> DecisionSettings:
    """The settings of `config_dir/decisions.toml` (the defaults when there is none);
    ConfigErrors naming the file and every wrong key."""
    path = config_dir / FILE
    if not path.exists():
        return DecisionSettings()
    data = read_toml(path)
    r = TableReader()
    r.file = FILE
    r.table(data, "", ("decisions",))
    t = r.table(data.get("decisions"), "decisions", tuple(DecisionSettings.__dataclass_fields__))
    d = DecisionSettings()
    settings = DecisionSettings(
        enabled=r.get(t, "decisions", "enabled", bool, d.enabled),
        directory=r.get(t, "decisions", "directory", str, d.directory),
        keep_days=r.get(t, "decisions", "keep_days", int, d.keep_days, check=_at_least_one),
        queue_size=r.get(t, "decisions", "queue_size", int, d.queue_size, check=_at_least_one),
        top=r.get(t, "decisions", "top", int, d.top, check=_at_least_one),
    )
    if not settings.directory and not r.errors:
        r.error("decisions.directory", "must not be empty")
    if r.errors:
        raise ConfigErrors(r.errors)
    return settings
