# TameLab: the two commands of the README.
#   make atlas  -> fresh .venv, install, run `tamelab atlas` on its default config
#   make test   -> fresh .venv, install with test + docs extras (pinned by constraints.txt), then lint, format
#                  check, type check, and the whole test suite with the package's doctests
# TORCH_SPEC pins the CPU wheel that lies on disk; override e.g. TORCH_SPEC='torch>=2.4'.
PY ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=
CONSTRAINTS ?= constraints.txt
BIN := $(VENV)/bin
STAMP := $(VENV)/.tamelab-installed

# `ruff check` and `ruff format --check` cover the whole tree (configuration in pyproject.toml).
LINT_PATHS ?= src tests benchmarks
FORMAT_PATHS ?= $(LINT_PATHS)

.PHONY: install atlas test test-all test-latest lint format-check typecheck constraints bench claims docs clean

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) -e ".[test,docs]"
	touch $(STAMP)

install: $(STAMP)

atlas: $(STAMP)
	$(BIN)/tamelab atlas --out runs/atlas
	@echo "report: runs/atlas/report.html"

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)

format-check: $(STAMP)
	$(BIN)/ruff format --check $(FORMAT_PATHS)

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint format-check typecheck
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-all: $(STAMP)
	$(BIN)/python -m pytest -m "slow or not slow" $(PYTEST_ARGS)

# The newest versions the ranges in pyproject.toml allow, in a separate environment (no constraints).
LATEST := .venv-latest
test-latest:
	test -x $(LATEST)/bin/python || $(PY) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install -q "$(TORCH_SPEC)"
	$(LATEST)/bin/python -m pip install -q -U -e ".[test]"
	$(LATEST)/bin/python -m pytest $(PYTEST_ARGS)

# Re-pin constraints.txt to what the current .venv has (torch and the benchmark anchors excepted).
constraints: $(STAMP)
	{ head -3 $(CONSTRAINTS); $(BIN)/python -m pip freeze --exclude-editable | \
	  grep -v -i -E '^(torch|nvidia-|triton|tamelab)'; } > $(CONSTRAINTS).new && mv $(CONSTRAINTS).new $(CONSTRAINTS)

claims: $(STAMP)
	$(BIN)/tamelab claims run --all

# Anchors (reference implementations the benchmarks compare against) are installed with
# --no-deps so that none of them can replace the pinned CPU torch with another build.
ANCHORS := pyhessian loss-landscapes curvlinops-for-pytorch relucent einops einconv linear_operator \
           backpack-for-pytorch opt-einsum jaxtyping wadler-lindig unfoldNd "gurobipy>=12,<14" plotly networkx \
           "hessian-eigenthings==1.0.0a5" rebasin torchview graphviz
bench: $(STAMP)
	$(BIN)/python -m pip install -q -e ".[bench]"
	$(BIN)/python -m pip install -q --no-deps $(ANCHORS)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

# API reference and docs site: mkdocs-material + mkdocstrings, warnings are errors; output in build/docs (ignored)
docs: $(STAMP)
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) -e ".[docs]"
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir build/docs

clean:
	rm -rf $(VENV) $(LATEST) runs .pytest_cache
