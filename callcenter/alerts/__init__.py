"""Early warning (预警, GB/T 44192 7.1.2, 7.2.1.2): surges of volume, clusters of similar
requests about one place, sensitive and group requests, repeated callers and problems.

Pure detectors (`surge`, `cluster`, `lexicon`, `repeat`) are driven by `engine.AlertEngine`
one ticket at a time; `store` keeps the warnings; `evaluate` measures them against the truth of
a synthetic year."""
