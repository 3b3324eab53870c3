#!/usr/bin/env bash
# Re-make requirements.lock: every direct and indirect dependency, pinned, for Linux x86_64 Python 3.11.
# One lock for all three installs: the local environment (scripts/bootstrap.sh), the CPU/local worker
# image and the cloud (CUDA) worker image (worker/Dockerfile installs worker/requirements.txt constrained
# by it). torch is locked as the CPU build (2.13.0+cpu); the cloud image takes PyPI's torch of the same
# version, the CUDA 13 build, whose nvidia-* dependencies that wheel pins exactly.
# Edit requirements.txt or worker/requirements.txt, then run this and commit both.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
UV=${UV:-$VENV/bin/uv}
# The CPU torch wheel: a local wheelhouse if this machine has one, else PyTorch's CPU index.
links=()
for d in ${PIP_FIND_LINKS:-}; do links+=(--find-links "$d"); done
[ ${#links[@]} -gt 0 ] || links=(--extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match)
"$UV" pip compile requirements.txt worker/requirements.txt --python-version 3.11 \
  --python-platform x86_64-manylinux_2_28 "${links[@]}" --custom-compile-command "scripts/lock.sh" \
  -o requirements.lock
