# TameLab: the two commands of the README.
#   make atlas  -> fresh .venv, install, run `tamelab atlas` on its default config
#   make test   -> fresh .venv, install with test extras, run the whole test suite
# TORCH_SPEC pins the CPU wheel that lies on disk; override e.g. TORCH_SPEC='torch>=2.4'.
PY ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.tamelab-installed

.PHONY: install atlas test test-all bench claims docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

atlas: $(STAMP)
	$(BIN)/tamelab atlas --out runs/atlas
	@echo "report: runs/atlas/report.html"

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-all: $(STAMP)
	$(BIN)/python -m pytest -m "slow or not slow" $(PYTEST_ARGS)

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
	$(BIN)/python -m pip install -q -e ".[docs]"
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir build/docs

clean:
	rm -rf $(VENV) runs .pytest_cache
