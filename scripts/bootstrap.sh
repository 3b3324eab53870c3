#!/usr/bin/env bash
# Create (or refresh) the local environment: a venv at $VENV (default .venv) with every dependency at
# its version in requirements.lock (the same lock the worker images install from; scripts/lock.sh makes
# it) and the playbook package. Re-runs only when the lock or pyproject.toml change.
# Portable: Linux (x86_64, aarch64) and macOS (arm64, whose bash is 3.2): only POSIX tools and Python.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
stamp="$VENV/.playbook-installed"
# the fingerprint of what the environment is made from (Python's hashlib: GNU sha256sum is not on macOS)
want=$("$PYTHON" -c 'import hashlib, sys
print(hashlib.sha256(b"".join(open(p, "rb").read() for p in sys.argv[1:])).hexdigest())' requirements.lock pyproject.toml)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
start=$(date +%s)
echo "creating the environment in $VENV (one time, about a minute)"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
# The lock pins torch per platform (scripts/torch-platforms.txt): on Linux x86_64 the CPU build
# (2.13.0+cpu), from a local wheelhouse (PIP_FIND_LINKS) when this machine has one, else from PyTorch's CPU
# index (PyPI's Linux torch is the multi-GB CUDA build); elsewhere PyPI's torch 2.13.0.
set -- -r requirements.lock
if [ -z "${PIP_FIND_LINKS:-}" ] && [ "$(uname -s)" = Linux ] && [ "$(uname -m)" = x86_64 ]; then
  set -- --extra-index-url https://download.pytorch.org/whl/cpu "$@"
fi
"$VENV/bin/python" -m pip install -q "$@"
"$VENV/bin/python" -m pip install -q --no-deps -e .
echo "$want" > "$stamp"
echo "environment ready in $(( $(date +%s) - start )) s"
