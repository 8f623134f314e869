"""Hotline reports (GB/T 44192 7.2.1.1): KPI formulas, SQL aggregates, report building and
rendering (XLSX, HTML, PDF)."""
