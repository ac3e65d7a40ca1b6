# Two commands on a fresh machine: `make demo` and `make test`. Every target bootstraps the venv.
SHELL := /bin/bash
UV_VERSION := 0.13.9
UV := .tools/bin/uv
PY := .venv/bin/python
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export MLOPS_HOME ?= $(CURDIR)/.mlops
# Dagster writes a run's planned and a range step's materialization events as batches of this size
# (mlops_assets/local_event_log.py: one transaction per batch; dagster-postgres: one INSERT).
export DAGSTER_EVENT_BATCH_SIZE ?= 100

.PHONY: venv demo test ui bench lint fmt clean image image-smoke

$(UV):
	python3 -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --extra dev
	touch $@

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

venv: .venv/.synced $(DAGSTER_HOME)/dagster.yaml

demo: venv
	$(PY) -m mlops_assets.cli demo

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

ui: venv
	.venv/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# drain3 pins cachetools==4.2.1 (MLflow needs >=5): it is a bench-only comparison, installed without deps.
bench: venv
	$(UV) pip install --python $(PY) --quiet --no-deps "drain3==0.9.11" "jsonpickle>=3"
	$(PY) bench/run.py $(BENCH)

# The production image on the local Docker engine (deploy/image/: debootstrap base, cached; classic builder).
image:
	deploy/image/build.sh

# Code server + a parse and the training step pod of the image, against real PostgreSQL and MLflow.
image-smoke: venv image
	$(PY) -m pytest -m image mlops_assets_tests/deploy $(PYTEST_ARGS)

lint: venv
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

fmt: venv
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

clean:
	rm -rf .venv .tools .dagster_home .mlops
