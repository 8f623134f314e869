"""Live figures: one model counted from the domain events (`model.LiveFigures`), read by the
wallboard feed (`wallboard.snapshot`), `/api/stats`, Prometheus's `/metrics` (`metrics`) and the
demo's printout (`report`)."""
