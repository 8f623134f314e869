# The two commands a newcomer needs (see README.md).
.PHONY: demo test setup lint bench

setup:
	@bash tools/setup.sh

demo: setup
	.venv/bin/callcenter demo

test: setup
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy

bench: setup
	.venv/bin/python tools/bench_acd.py
	.venv/bin/python tools/bench_e2e.py
