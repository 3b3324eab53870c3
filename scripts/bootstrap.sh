#!/usr/bin/env bash
# Create (or refresh) the local environment: a venv at $VENV (default .venv) with the pinned
# requirements and the playbook package. Re-runs only when requirements.txt or pyproject.toml change.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
stamp="$VENV/.playbook-installed"
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
start=$(date +%s)
echo "creating the environment in $VENV (one time, about a minute)"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
# torch is pinned in requirements.txt: an unpinned torch would pull a multi-GB CUDA build.
"$VENV/bin/python" -m pip install -q -r requirements.txt
"$VENV/bin/python" -m pip install -q --no-deps -e .
echo "$want" > "$stamp"
echo "environment ready in $(( $(date +%s) - start )) s"
