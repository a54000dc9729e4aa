# Targets read like the README: setup, run, train, serve, test, lint, build, invoke, local-api, bench.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# Python 3.13: from PATH, else from pyenv (.python-version pins 3.13.0).
PYTHON313 ?= $(shell command -v python3.13 2>/dev/null || ls -d $(HOME)/.pyenv/versions/3.13*/bin/python3.13 2>/dev/null | tail -n 1)
DATA ?= training/data/support_tickets.csv
MODEL_LAYER ?= layers/model
MODEL_MANIFEST = $(MODEL_LAYER)/model/manifest.json
# extra options for `make train`, e.g. TRAIN_ARGS="--text-column body --allow-regression"
TRAIN_ARGS ?=
HOST ?= 127.0.0.1
PORT ?= 8000
# sam local (samconfig.toml sets the image, --skip-pull-image and warm containers)
EVENT ?= tests/events/apigw-v2-predict.json
FUNCTION ?= ApiFunction
LOCAL_API_PORT ?= 3000
LOCAL_LAMBDA_PORT ?= 3001
LOCAL_TEMPLATE := .aws-sam/build/template.local.yaml
# sam looks for samconfig.toml beside the template it is given, so name ours explicitly
SAM_LOCAL := $(BIN)/sam local
SAMCONFIG := --config-file $(CURDIR)/samconfig.toml
MODEL_BACKEND = $$($(PY) scripts/model_backend.py $(MODEL_LAYER)/model)
# sam needs python3.13 on PATH for `sam build`; the venv provides it.
export PATH := $(abspath $(BIN)):$(PATH)
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help setup train model run serve test test-unit lint build validate deploy bench bench-batch bench-accuracy \
	local-image local-template invoke local-api local-lambda clean clean-model

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements/dev.lock pyproject.toml
	@test -n "$(PYTHON313)" || { echo "error: Python 3.13 not found (install it, e.g. pyenv install 3.13.0)"; exit 1; }
	@echo "setup: creating $(VENV) with $(PYTHON313)"
	$(PYTHON313) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@echo "setup: installing the pinned dependencies of requirements/dev.lock ($$(grep -c '==' requirements/dev.lock) packages; the first time takes a few minutes, pip lists each one)"
	$(PY) -m pip install --progress-bar off -r requirements/dev.lock
	@echo "setup: installing this project in editable mode"
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@
	@echo "setup: done ($(VENV))"

setup: $(VENV)/.installed ## create .venv with pinned dev, training and test dependencies

# The model in $(MODEL_LAYER) is the user's: only `make train` (or `python -m training train`)
# replaces it. The targets that need a model depend on this rule, which trains the bundled sample
# only when there is no model at all. It has no normal prerequisites on purpose: an existing
# model is never "out of date" because training code, the lock file or DATA changed (a `git pull`
# must not retrain over it); the venv is an order-only prerequisite for the same reason.
$(MODEL_MANIFEST): | $(VENV)/.installed
	@echo "no model in $(MODEL_LAYER)/model yet: training one on $(DATA) (the bundled sample unless you set DATA)"
	@echo "(to use your own data: make train DATA=your.csv, or .venv/bin/python -m training train)"
	$(PY) -m training train --data $(DATA) --output $(MODEL_LAYER)

train: setup ## train on DATA (default: the bundled sample) into layers/model/; the regression gate guards the current model
	$(PY) -m training train --data $(DATA) --output $(MODEL_LAYER) $(TRAIN_ARGS)

model: $(MODEL_MANIFEST) ## the model the other targets use: say which (trains the sample only when there is none)
	@$(PY) scripts/model_info.py $(MODEL_LAYER)/model

run: setup model serve ## set up, train the sample if there is no model yet, and serve the API on 127.0.0.1:8000

serve: setup model ## serve the API locally (uvicorn) with the model in layers/model (the sample if there is none)
	@echo ""
	@echo "API on http://$(HOST):$(PORT)  (interactive docs, offline: http://$(HOST):$(PORT)/docs and /redoc)"
	@echo "try:  curl -s http://$(HOST):$(PORT)/predict -H 'Content-Type: application/json' -d '{\"text\": \"I was charged twice for my order\"}'"
	@echo ""
	MODEL_DIR=$(MODEL_LAYER)/model POWERTOOLS_SERVICE_NAME=textclf-api \
	  $(BIN)/uvicorn app:app --app-dir functions/api --host $(HOST) --port $(PORT)

test: setup ## run the whole test suite
	$(BIN)/pytest

test-unit: setup ## only the tests that need neither moto nor Docker
	$(BIN)/pytest tests/unit

lint: setup ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

validate: setup ## sam validate --lint
	$(BIN)/sam validate --lint

build: setup model ## sam build (layers for python3.13 / x86_64)
	$(BIN)/sam build

deploy: build ## sam deploy (ModelBackend chosen from the model's manifest)
	$(BIN)/sam deploy --parameter-overrides ModelBackend=$$($(PY) scripts/model_backend.py $(MODEL_LAYER)/model)

local-image: ## build (or reuse) the offline Lambda base image textclf/lambda-python:3.13
	scripts/local-image.sh

# sam local skips layers attached with !If, so it runs on a copy of the built template with the
# model's ModelBackend resolved (scripts/sam_local_template.py).
local-template: local-image build
	$(PY) scripts/sam_local_template.py .aws-sam/build/template.yaml $(LOCAL_TEMPLATE) ModelBackend=$(MODEL_BACKEND)

invoke: local-template ## sam local invoke: print the API's JSON response to EVENT (no network needed)
	@$(SAM_LOCAL) invoke $(SAMCONFIG) $(FUNCTION) --template-file $(LOCAL_TEMPLATE) --event $(EVENT) \
	  --parameter-overrides "ModelBackend=$(MODEL_BACKEND) BatchMemorySize=2048"

local-api: local-template ## sam local start-api on 127.0.0.1:3000 (warm containers)
	$(SAM_LOCAL) start-api $(SAMCONFIG) --template-file $(LOCAL_TEMPLATE) --port $(LOCAL_API_PORT) \
	  --parameter-overrides "ModelBackend=$(MODEL_BACKEND) BatchMemorySize=2048"

local-lambda: local-template ## sam local start-lambda on 127.0.0.1:3001 (the Lambda invoke API, for SDKs)
	$(SAM_LOCAL) start-lambda $(SAMCONFIG) --template-file $(LOCAL_TEMPLATE) --port $(LOCAL_LAMBDA_PORT) \
	  --parameter-overrides "ModelBackend=$(MODEL_BACKEND) BatchMemorySize=2048"

bench: setup model ## benchmarks: cold start, latency, batch, size (one table)
	$(PY) bench/run.py --json bench/results/latest.json
	$(MAKE) --no-print-directory bench-accuracy

bench-accuracy: setup ## accuracy of default training on banking77 and sms_spam (../shared/datasets)
	$(PY) scripts/bench_accuracy.py --json bench/results/accuracy.json

BATCH_SIZES ?= 10MB,100MB
bench-batch: setup model ## S3 batch scoring: rows/s and peak RSS by input size (moto_server)
	@mkdir -p bench/results
	$(PY) bench/batch.py --sizes $(BATCH_SIZES) --json bench/results/batch.json

clean: ## remove build output and caches (the venv and the trained model are kept)
	rm -rf .aws-sam build .pytest_cache .mypy_cache .ruff_cache

clean-model: ## DELETE the trained model in layers/model/ (the next make run trains the sample again)
	find $(MODEL_LAYER) -mindepth 1 -not -name README.md -prune -exec rm -rf {} +
