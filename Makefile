# The two set-up commands of the README: `make demo` and `make test`.
# Both create (or reuse) .venv in the repository and install handpose into it.
#
# torch is installed first, pinned, so that the package's own `torch>=2.11` needs nothing more.
# On a machine without a GPU, pip must not fetch the CUDA build: set TORCH_INDEX to PyTorch's CPU index
# where the default index would serve CUDA wheels (see README, "Installing with or without a GPU").

PYTHON ?= python3
VENV ?= .venv
TYPECHECK_VENV ?= .venv-typecheck
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
PYTEST_ARGS ?=
DEMO_ARGS ?=

BIN := $(VENV)/bin
STAMP := $(VENV)/.handpose-installed
TORCH_INDEX_FLAG := $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX),)

.PHONY: demo test test-fast lint typecheck setup clean bench bench-quick

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet $(TORCH_INDEX_FLAG) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -c "import torch, handpose; print('handpose', handpose.__version__, 'torch', torch.__version__, 'cuda', torch.version.cuda)"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/handpose demo $(DEMO_ARGS)

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts

# mypy over the public API as a caller writes it (tests/public_api_types.py), in a venv of its own (mypy only, no
# torch); it reads numpy's and torch's types from $(VENV) where that exists. Not part of `make test`.
typecheck:
	test -x $(TYPECHECK_VENV)/bin/mypy || { $(PYTHON) -m venv $(TYPECHECK_VENV) && $(TYPECHECK_VENV)/bin/python -m pip install --quiet mypy; }
	MYPYPATH=src $(TYPECHECK_VENV)/bin/mypy $(if $(wildcard $(BIN)/python),--python-executable $(BIN)/python,) \
		--ignore-missing-imports --follow-imports=silent --warn-unused-ignores tests/public_api_types.py

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

bench-quick: $(STAMP)
	$(BIN)/python benchmarks/run_all.py --quick

clean:
	rm -rf $(VENV) $(TYPECHECK_VENV) .mypy_cache runs build dist src/*.egg-info
