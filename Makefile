# linewatch — run `make help` for the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LINEWATCH := $(VENV)/bin/linewatch
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup demo test test-fast lint bench kafka-up kafka-down clean train browser k8s-validate config-doc

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements-lock.txt
	@echo "==> creating $(VENV) and installing linewatch (first run takes a few minutes)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c requirements-lock.txt -e '.[dev]'
	@# byte-compile the editable sources once: where PYTHONDONTWRITEBYTECODE is set, every
	@# process would otherwise compile them again at start (about 0.15-0.45 s a start)
	$(PY) -m compileall -q streams schemas > /dev/null
	@touch $(STAMP)

setup: $(STAMP) ## Create .venv and install linewatch with its dev tools

demo: setup ## Simulate a lab reference and a production day, run the monitor, print the verdict
	$(LINEWATCH) demo

kafka-up: ## Build (first time) and start the local Kafka broker on 127.0.0.1:9092 (KAFKA_PORT=9094 for another)
	bash deploy/kafka-local/kafka.sh up

kafka-down: ## Stop the local Kafka broker
	bash deploy/kafka-local/kafka.sh down

lint: setup ## ruff + mypy
	$(VENV)/bin/ruff check streams schemas tests bench tools
	$(VENV)/bin/ruff format --check streams schemas tests bench tools
	$(VENV)/bin/mypy streams schemas tests bench

config-doc: setup ## Regenerate docs/configuration.md (every LINEWATCH_* variable) from streams/config_groups/
	$(PY) -m streams.config_doc --write

browser: ## Install headless Chromium (Debian package) for the report rendering test, if missing
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then \
		echo "==> chromium present"; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "==> installing chromium (Debian package) for the report test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "!! chromium missing and cannot be installed here: the report-rendering test will skip"; \
		echo "   (install it with: sudo apt-get install chromium)"; \
	fi

# `make test` runs the tests in PYTEST_WORKERS processes (pytest-xdist), each test file whole in
# one of them (module fixtures are built once), and prints the 25 slowest tests at the end.
PYTEST_WORKERS ?= 2

test: setup kafka-up browser ## Lint, then every test against a real Kafka broker and embedded ClickHouse
	$(MAKE) lint
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=25

test-fast: setup ## Tests that need no Kafka broker
	$(PY) -m pytest -m "not kafka"

k8s-validate: ## Render every k8s/ kustomization and validate it offline (Kubernetes + KEDA schemas; needs Go)
	cd deploy/tools/k8s-validate && go run . $(patsubst %/kustomization.yaml,../../../%,$(shell grep -l '^kind: Kustomization' $$(find k8s -name kustomization.yaml)))

bench: setup ## Benchmarks: print measured ratios side by side (never assert times)
	$(PY) bench/run_all.py

train: ## Retrain the shipped detector (needs the [train] extra: torch)
	$(PY) -m pip install -q -c requirements-lock.txt -e '.[train]'
	$(PY) tools/train_detector.py

clean: ## Remove the virtualenv, local stores and build output
	rm -rf $(VENV) .linewatch demo-out build *.egg-info
