# Everything installs into ./.venv from PyPI; only Python 3.10+ (with venv) is needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.runtime-installed
TESTING := $(VENV)/.test-installed

.PHONY: install demo test test-fast bench clean

$(RUNTIME): pyproject.toml setup.cfg
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME)

$(TESTING): $(RUNTIME)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(TESTING)

install: $(RUNTIME)

demo: $(RUNTIME)  ## train, query and evaluate on the bundled sample corpus (installs the runtime only)
	$(BIN)/seqkit demo

test: $(TESTING)  ## the whole test suite (what .ci/run runs)
	$(BIN)/python -m pytest -q

test-fast: $(TESTING)
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(TESTING)  ## the quick side-by-side benchmarks (need the benchmark data sets, see benchmarks/_common.py); word2vec.py and rnnlm.py take an hour
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/core.py
	$(BIN)/python benchmarks/ngram.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
