# The two commands of the README:
#   make playbook   the whole playbook on the local platform: environment, demo model, every notebook
#                   executed headless into build/notebooks (executed .ipynb and .html)
#   make test       ruff, then the whole test suite (fast tier, end-to-end on the local platform, Docker tier,
#                   every notebook): CI's command
#   make test-fast  ruff, then the quick tier only (-m "not slow": no platform, worker process, notebook or Docker)
# Bring your own model and target: make playbook MODEL_DIR=/data/my-diffusers-folder TARGET=runpod
# (TARGET=local keeps it on the local platform even when RUNPOD_API_KEY is set)
# (any other notebook parameter: NOTEBOOK_PARAMS="-p steps=4 -p vram_gb=8")
VENV ?= .venv
PY := $(VENV)/bin/python
export PLAYBOOK_BUILD_DIR ?= $(CURDIR)/build

.PHONY: playbook test test-fast lint env clean services

MODEL_DIR ?=
TARGET ?=
NOTEBOOK_PARAMS ?=
NB_ARGS := $(if $(MODEL_DIR),-p model_dir=$(MODEL_DIR)) $(if $(TARGET),--target $(TARGET)) $(NOTEBOOK_PARAMS)

playbook: env
	$(PY) -m playbook demo-model
	$(PY) -m playbook notebooks $(NB_ARGS)
	@echo "executed notebooks and HTML are in $(PLAYBOOK_BUILD_DIR)/notebooks"

# the suite on TEST_CORES processes (pytest-xdist; a test file stays on one process, tests/parallel.py; files
# in the order tests/conftest.py sorts them, the ones that wait for the journey last, not xdist's largest first);
# TEST_CORES=0 runs it in this one process
TEST_CORES ?= 2
XDIST := $(if $(filter 0,$(TEST_CORES)),,-n $(TEST_CORES) --dist loadfile --no-loadscope-reorder)

test: env lint
	$(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

test-fast: env lint
	$(PY) -m pytest -m "not slow" $(XDIST) $(PYTEST_ARGS)

lint:
	$(VENV)/bin/ruff check .

env:
	@VENV=$(VENV) scripts/bootstrap.sh

# Docker daemon, loopback registry and local base image for the docker tier (root; idempotent).
services:
	scripts/services.sh

clean:
	rm -rf build
