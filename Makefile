# tabgate: the two commands a new user needs are `make run` and `make test`.
# Both create .venv and install the project into it first (no network beyond the package registry).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export GX_ANALYTICS_ENABLED := false
export DVC_NO_ANALYTICS := 1
export MPLBACKEND := Agg

.PHONY: install run repro lint format-check format docs test test-fast bench constraints clean help
help:            ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev,bench]"
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install tabgate with its test tools

run: $(STAMP)    ## run the whole pipeline on the bundled sample as a Prefect flow (temporary local server)
	@git rev-parse --is-inside-work-tree >/dev/null 2>&1 || git init -q
	$(BIN)/tabgate run

repro: $(STAMP)  ## the same pipeline through dvc repro
	@git rev-parse --is-inside-work-tree >/dev/null 2>&1 || git init -q
	$(BIN)/tabgate run --engine dvc

lint: $(STAMP) format-check ## ruff (lint and formatting) and mypy (types), configured in pyproject.toml
	$(BIN)/ruff check tasks flows tests benchmarks tools
	$(BIN)/mypy

format-check: $(STAMP) ## ruff format --check (fails naming the files `ruff format` would change; changes nothing)
	$(BIN)/ruff format --check tasks flows tests benchmarks tools

format: $(STAMP) ## ruff format: rewrite the code in the house format
	$(BIN)/ruff format tasks flows tests benchmarks tools

docs: $(STAMP)   ## regenerate docs/configuration.md from tasks/core/config.py
	$(BIN)/python tools/config_reference.py

test: $(STAMP) lint ## lint, type-check, then the whole test suite (unit + integration)
	bash tools/install-test-deps.sh  # Chromium, PostgreSQL via apt when missing (root only)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP) ## unit tests only
	$(BIN)/python -m pytest -q tests/unit

bench: $(STAMP)  ## time each step on the bundled sample
	$(BIN)/python benchmarks/bench_pipeline.py

constraints: $(STAMP) ## rewrite constraints.txt from .venv (after changing pyproject.toml's dependencies; review the diff)
	{ sed -n '1,3p' constraints.txt; $(BIN)/pip freeze --exclude-editable | grep -v '^#'; } > constraints.txt.new && mv constraints.txt.new constraints.txt

clean:           ## remove generated outputs (keeps data/, the registry and .venv)
	rm -rf artifacts reports/evaluate reports/plots reports/explain gx/uncommitted dvc_plots
