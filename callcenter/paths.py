"""Where the project's own files are: the repository root (config/, dialplans/, tools/, var/)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
