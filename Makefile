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
# sam local, through scripts/sam_local.py (samconfig.toml sets --skip-pull-image and warm containers).
# PARAMS="Name=Value ..." adds parameter overrides (merged with samconfig's); ENV_VARS=file.json is
# sam's --env-vars (the only way a function variable is set: exported ones are not passed on).
EVENT ?= tests/events/apigw-v2-predict.json
FUNCTION ?= ApiFunction
LOCAL_API_PORT ?= 3000
LOCAL_LAMBDA_PORT ?= 3001
LOCAL_IMAGE ?= textclf/lambda-python:3.13
PARAMS ?=
ENV_VARS ?=
FILE ?=
MODEL_BACKEND = $$($(PY) scripts/model_backend.py "$(MODEL_LAYER)/model")
# Its own build of a template resolved for the model's ModelBackend (no scikit-learn layer for a
# lean model), rebuilt only when a source changed, and then with `sam build --cached`.
LOCAL_DIR := .aws-sam/local
LOCAL_SOURCE := $(LOCAL_DIR)/template.yaml
LOCAL_TEMPLATE := $(LOCAL_DIR)/build/template.yaml
# (folders too: their times change when a file is added or deleted)
LOCAL_INPUTS := $(shell find functions layers/common layers/deps "$(MODEL_LAYER)" -name __pycache__ -prune \
	-o ! -name '*.pyc' -print 2>/dev/null | sed 's/ /\\ /g')
SAM_LOCAL_PY = $(PY) scripts/sam_local.py $(1) --image "$(LOCAL_IMAGE)" --model-backend "$(MODEL_BACKEND)" \
	--model-dir "$(MODEL_LAYER)/model" \
	--params "$(PARAMS)" $(if $(ENV_VARS),--env-vars "$(ENV_VARS)")
# sam needs python3.13 on PATH for `sam build`; the venv provides it.
export PATH := $(abspath $(BIN)):$(PATH)
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help setup train model run serve test test-unit test-functional test-integration test-quality \
	test-browser test-e2e lint build validate deploy bench bench-batch bench-scale bench-accuracy \
	local-image local-template invoke invoke-check local-api local-lambda local-s3 local-s3-check clean clean-model

help: ## list targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements/dev.lock requirements/checkov.lock pyproject.toml
	@test -n "$(PYTHON313)" || { echo "error: Python 3.13 not found (install it, e.g. pyenv install 3.13.0)"; exit 1; }
	@echo "setup: creating $(VENV) with $(PYTHON313)"
	$(PYTHON313) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@echo "setup: installing the pinned dependencies of requirements/dev.lock ($$(grep -c '==' requirements/dev.lock) packages; the first time takes a few minutes, pip lists each one)"
	$(PY) -m pip install --progress-bar off -r requirements/dev.lock
	@echo "setup: installing this project in editable mode"
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@# checkov pins boto3/botocore older than moto and sam need: it gets a venv of its own
	$(PYTHON313) -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/python -m pip install --quiet -r requirements/checkov.lock
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
	  $(BIN)/uvicorn textclf_api.main:app --app-dir functions/api --host $(HOST) --port $(PORT)

# The tiers are the folders of tests/ (tests/tiers.py says what each may use). `make test` runs them all,
# measuring coverage of functions/, the core and training (pyproject.toml [tool.coverage]).
test: setup ## every test tier, with coverage of functions/, the core and training
	$(BIN)/pytest --cov --cov-report=term-missing:skip-covered

test-unit: setup ## tests/unit: no training, no process, no network (seconds)
	$(BIN)/pytest tests/unit

test-functional: setup ## tests/functional: the handlers with a model trained once, training on small files
	$(BIN)/pytest tests/functional

test-integration: setup ## tests/integration: AWS through moto
	$(BIN)/pytest tests/integration

test-quality: setup ## tests/quality: real datasets from ../shared/datasets (skipped when absent), accuracy targets
	$(BIN)/pytest tests/quality

test-browser: setup ## tests/browser: /docs and /redoc in headless Chromium
	$(BIN)/pytest tests/browser

test-e2e: setup ## tests/e2e: Docker and sam local
	$(BIN)/pytest tests/e2e

lint: setup ## ruff check, ruff format --check and mypy over every code folder (not a test tier)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

validate: setup ## sam validate --lint
	$(BIN)/sam validate --lint

build: setup model ## sam build (layers for python3.13 / x86_64)
	$(BIN)/sam build

deploy: build ## sam deploy (ModelBackend chosen from the model's manifest)
	$(BIN)/sam deploy --parameter-overrides ModelBackend=$$($(PY) scripts/model_backend.py $(MODEL_LAYER)/model)

# progress on stderr: `make invoke`'s stdout is the function's answer alone (a script can parse it)
local-image: ## build (or reuse) the offline Lambda base image textclf/lambda-python:3.13
	@LOCAL_IMAGE_TAG="$(LOCAL_IMAGE)" scripts/local-image.sh >&2

$(LOCAL_SOURCE): $(MODEL_MANIFEST) FORCE | $(VENV)/.installed
	@$(PY) scripts/sam_local_template.py --source template.yaml "$@" ModelBackend=$(MODEL_BACKEND)

$(LOCAL_TEMPLATE): $(LOCAL_SOURCE) $(LOCAL_INPUTS) $(MODEL_MANIFEST) | $(VENV)/.installed
	@echo "sam build --cached of $(LOCAL_SOURCE) into $(LOCAL_DIR)/build (sources changed)" >&2
	@$(BIN)/sam build --config-file "$(CURDIR)/samconfig.toml" --template-file "$(LOCAL_SOURCE)" \
	  --build-dir "$(LOCAL_DIR)/build" --cached --cache-dir "$(LOCAL_DIR)/cache" >&2
	@touch "$@"

FORCE:

local-template: local-image $(LOCAL_TEMPLATE) ## sam build for sam local: only what changed, only the layers the model uses

invoke-check:
	@if [ "$(FUNCTION)" = BatchFunction ] && [ -z "$(ENV_VARS)" ]; then \
	  echo "error: BatchFunction reads and writes S3, which \`make invoke\` does not provide." >&2; \
	  echo "       Score a file against a local S3 (moto) instead:  make local-s3 FILE=my.csv" >&2; exit 2; fi

invoke: invoke-check local-template ## sam local invoke FUNCTION with EVENT: the answer on stdout, exit 1 if the function fails
	@$(call SAM_LOCAL_PY,invoke "$(FUNCTION)" --event "$(EVENT)")

local-api: local-template ## sam local start-api on 127.0.0.1:3000 (warm containers)
	@$(call SAM_LOCAL_PY,start-api --port $(LOCAL_API_PORT))

local-lambda: local-template ## sam local start-lambda on 127.0.0.1:3001 (the Lambda invoke API, for SDKs)
	@$(call SAM_LOCAL_PY,start-lambda --port $(LOCAL_LAMBDA_PORT))

local-s3-check:
	@test -n "$(FILE)" || { echo "usage: make local-s3 FILE=path/to/file.csv  (.csv, .csv.gz, .jsonl, .jsonl.gz)" >&2; exit 2; }
	@test -f "$(FILE)" || { echo "error: $(FILE): no such file" >&2; exit 2; }

local-s3: local-s3-check local-template ## BatchFunction on FILE against a local S3 (moto): prints the outputs' first lines
	@$(call SAM_LOCAL_PY,s3 "$(FILE)")

bench: setup model ## benchmarks: cold start, latency, batch, size (one table)
	$(PY) bench/run.py --json bench/results/latest.json
	$(MAKE) --no-print-directory bench-accuracy

bench-accuracy: setup ## accuracy of default training on banking77 and sms_spam (../shared/datasets)
	$(PY) scripts/bench_accuracy.py --json bench/results/accuracy.json

BATCH_SIZES ?= 10MB,100MB
bench-batch: setup model ## S3 batch scoring: rows/s and peak RSS by input size (moto_server)
	@mkdir -p bench/results
	$(PY) bench/batch.py --sizes $(BATCH_SIZES) --json bench/results/batch.json

SCALE_SIZE ?= 1GB
SCALE_WORKERS ?= 1,2,4
bench-scale: setup model ## fan-out: plan + N range workers on a generated file (1 GB), projections to 10/100 GB
	@mkdir -p bench/results
	$(PY) bench/scale.py --size $(SCALE_SIZE) --workers $(SCALE_WORKERS) --json bench/results/scale.json

clean: ## remove build output and caches (the venv and the trained model are kept)
	rm -rf .aws-sam build .pytest_cache .mypy_cache .ruff_cache

clean-model: ## DELETE the trained model in layers/model/ (the next make run trains the sample again)
	find $(MODEL_LAYER) -mindepth 1 -not -name README.md -prune -exec rm -rf {} +
