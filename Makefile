# cjlib — `make help` lists the targets. Everything runs inside .venv, created on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SAMPLE := data/sample/events.parquet
CUSTOMERS ?= 20000
SEED   ?= 0
DELTA_THRESHOLD ?= 0.1
export PYTHONHASHSEED := 0

.DEFAULT_GOAL := help
.PHONY: help setup data reports test lab bench clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*?## "} /^[a-zA-Z_-]+:.*?## / {printf "  \033[36m%-9s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,dask]'
	@touch $(STAMP)

setup: $(STAMP) ## create .venv (if absent) and install cjlib with its dev tools; quick when nothing changed

$(SAMPLE): $(wildcard cjlib/synth.py cjlib/synth/*.py) | $(STAMP)
	$(BIN)/python -m cjlib data --customers $(CUSTOMERS) --seed $(SEED) --out data/sample

data: setup $(SAMPLE) ## write the synthetic sample to data/sample/ (skipped when current)

reports: data ## run every notebook into reports/ and write reports/index.html (DELTA_THRESHOLD=0.2 flags moves over 20 %)
	$(BIN)/python -m cjlib report --delta-threshold $(DELTA_THRESHOLD)

test: data ## lint, then run the test suite, the docstring examples and every notebook under nbval
	$(BIN)/ruff check cjlib tests benchmarks
	CJLIB_STRICT_FINDINGS=1 $(BIN)/python -m pytest -q -n auto --dist loadfile --doctest-modules cjlib tests
	CJLIB_STRICT_FINDINGS=1 $(BIN)/python -m pytest -q --nbval-lax notebooks -p no:cacheprovider

lab: data ## open the notebooks in JupyterLab
	$(BIN)/jupyter lab notebooks

bench: data ## run the benchmarks (installs the bench and dask extras)
	$(BIN)/python -m pip install -q -e '.[dev,bench,dask]'
	$(BIN)/python benchmarks/run.py

clean: ## remove generated reports, sample data and caches (keeps .venv and reports/history/)
	rm -rf reports/*.html reports/*.ipynb reports/*.json reports/*.csv data/sample .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
