# sfn-inference: the single entry point. `make test` on a fresh clone creates .venv,
# installs everything, and runs lint, types and the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TRAIN_VENV := .venv-train

.PHONY: help install lint types unit integration test demo model bench package deploy destroy clean

help:
	@echo "make demo     run the whole pipeline on the local cloud (no AWS account, no Docker)"
	@echo "make test     lint (ruff), types (mypy), unit and integration tests"
	@echo "make model    retrain the demo model bundle (TensorFlow, in $(TRAIN_VENV))"
	@echo "make bench    measure cold start, per-image cost, throughput, package size"
	@echo "make package  build the Lambda artifacts and check their sizes"
	@echo "make deploy / make destroy   deploy to / remove from AWS with SAM"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[local,notebook,dev]'
	touch $@

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy src functions tests

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP)
	$(BIN)/pytest tests/integration

test: lint types
	$(BIN)/pytest

demo: $(STAMP)
	$(BIN)/sfn-inference demo

$(TRAIN_VENV)/.installed: pyproject.toml
	test -x $(TRAIN_VENV)/bin/python || $(PYTHON) -m venv $(TRAIN_VENV)
	$(TRAIN_VENV)/bin/python -m pip install --quiet -e '.[train]'
	touch $@

model: $(TRAIN_VENV)/.installed
	$(TRAIN_VENV)/bin/python -m sfn_inference.training.train --dataset digits

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
