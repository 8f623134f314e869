"""Data governance (GB/T 44192-2024 6.2 治理方式, 6.4 数据质量): declarative quality rules
(config/quality.toml), full and incremental runs that record issues and per-dimension scores,
quality reports (text, JSON, XLSX) and audited corrections."""
