# The two commands of the README:
#   make playbook   the whole playbook on the local platform: environment, demo model, every notebook
#                   executed headless into build/notebooks (executed .ipynb and .html)
#                   (TARGET=local keeps it on the local platform even when RUNPOD_API_KEY is set)
#   make test       the test suite (fast tier, end-to-end on the local platform, and every notebook)
VENV ?= .venv
PY := $(VENV)/bin/python
export PLAYBOOK_BUILD_DIR ?= $(CURDIR)/build

.PHONY: playbook test env clean services

playbook: env
	$(PY) -m playbook demo-model
	$(PY) -m playbook notebooks $(if $(TARGET),--target $(TARGET))
	@echo "executed notebooks and HTML are in $(PLAYBOOK_BUILD_DIR)/notebooks"

test: env
	$(PY) -m pytest $(PYTEST_ARGS)

env:
	@VENV=$(VENV) scripts/bootstrap.sh

# Docker daemon, loopback registry and local base image for the docker tier (root; idempotent).
services:
	scripts/services.sh

clean:
	rm -rf build
