"""The per-call decision log: why each caller was offered to whom, or not (issue 18)."""
