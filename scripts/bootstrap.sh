#!/usr/bin/env bash
# Create (or refresh) the local environment: a venv at $VENV (default .venv) with every dependency at
# its version in requirements.lock (the same lock the worker images install from; scripts/lock.sh makes
# it) and the playbook package. Re-runs only when the lock or pyproject.toml change.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
stamp="$VENV/.playbook-installed"
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
start=$(date +%s)
echo "creating the environment in $VENV (one time, about a minute)"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
# The lock pins torch's CPU build (2.13.0+cpu): from a local wheelhouse (PIP_FIND_LINKS) when this
# machine has one, else from PyTorch's CPU index (PyPI's Linux torch is the multi-GB CUDA build).
torch_index=()
[ -n "${PIP_FIND_LINKS:-}" ] || torch_index=(--extra-index-url https://download.pytorch.org/whl/cpu)
"$VENV/bin/python" -m pip install -q "${torch_index[@]}" -r requirements.lock
"$VENV/bin/python" -m pip install -q --no-deps -e .
echo "$want" > "$stamp"
echo "environment ready in $(( $(date +%s) - start )) s"
