# Everything installs into ./.venv from PyPI; only Python 3.11 (with venv) is needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast bench clean

$(STAMP): pyproject.toml setup.cfg
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: install  ## train, query and evaluate on the bundled sample corpus
	$(BIN)/seqkit demo

test: install  ## the whole test suite (what .ci/run runs)
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

bench: install  ## the quick side-by-side benchmarks (need the benchmark data sets, see benchmarks/_common.py); word2vec.py and rnnlm.py take an hour
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/core.py
	$(BIN)/python benchmarks/ngram.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
