# Each target creates or refreshes the local .venv, so on a fresh machine each is one command.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test train bench install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)  ## the whole pipeline against a throwaway local IMAP server with sample mail
	$(BIN)/python demo/run_demo.py

test: $(STAMP)  ## type check, then the whole suite, including real IMAP servers on loopback
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest

train: $(STAMP)  ## retrain models/ from training_data/ (gated: keeps a better current model)
	$(BIN)/triage train $(ARGS)

bench: $(STAMP)  ## parse + classify throughput and memory
	$(BIN)/python bench/bench.py

clean:
	rm -rf $(VENV) .demo .pytest_cache
