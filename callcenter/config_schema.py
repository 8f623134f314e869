"""JSON Schemas of the config files, from their models, for editors (e.g. VS Code's
Even Better TOML or taplo: `#:schema ./schema/center.schema.json` at the top of a file).
`callcenter config schema --out DIR` writes them; docs/schema/ holds the current ones
(tools/build_docs.py), which a test keeps in step with the models."""

from __future__ import annotations

import json
from pathlib import Path

from callcenter.alerts.settings import AlertsFile
from callcenter.analytics.scorecard import ScorecardFile
from callcenter.config import FILE_MODELS
from callcenter.config_models import FileModel, json_schema
from callcenter.data.catalog import CatalogFile
from callcenter.data.feeds import ExportsFile
from callcenter.data.protection import ProtectionFile
from callcenter.data.quality.config import QualityFile
from callcenter.data.retention import RetentionFile
from callcenter.decisions.settings import DecisionsFile
from callcenter.inspection.config import InspectionFile
from callcenter.ivr_file import IvrFile
from callcenter.knowledge_base.seed import SeedFile
from callcenter.reports.schedule import ReportsFile
from callcenter.staffing.settings import StaffingFile
from callcenter.tickets.settings import DepartmentsFile, KnowledgeFile, TicketsFile

# Every config file with a model: the center's (load_config) and the features' own.
MODELS: dict[str, type[FileModel]] = {
    **FILE_MODELS,
    "decisions.toml": DecisionsFile,
    "staffing.toml": StaffingFile,
    "reports.toml": ReportsFile,
    "alerts.toml": AlertsFile,
    "knowledge_base_seed.toml": SeedFile,
    "catalog.toml": CatalogFile,
    "retention.toml": RetentionFile,
    "quality.toml": QualityFile,
    "protection.toml": ProtectionFile,
    "exports.toml": ExportsFile,
    "ivr.toml": IvrFile,
    "tickets.toml": TicketsFile,
    "knowledge.toml": KnowledgeFile,
    "departments.toml": DepartmentsFile,
    "inspection.toml": InspectionFile,
    "scorecard.toml": ScorecardFile,
}


def schemas() -> dict[str, str]:
    """File name -> its JSON Schema's text, e.g. "center.schema.json"."""
    out = {}
    for file, model in MODELS.items():
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            **json_schema(model),
            "title": file,
        }
        name = file.removesuffix(".toml") + ".schema.json"
        out[name] = json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=False) + "\n"
    return out


def write(directory: Path) -> list[Path]:
    """Write every schema into `directory` (created); the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in schemas().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
