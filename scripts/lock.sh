#!/usr/bin/env bash
# Re-make requirements.lock: every direct and indirect dependency, pinned, for Python 3.11 on Linux x86_64,
# Linux aarch64 and macOS arm64 at once (uv's universal resolution: one version of each package, with
# environment markers where a package is needed on some platforms only). torch is the one package whose
# build differs: scripts/torch-platforms.txt (the CPU build 2.13.0+cpu on Linux x86_64, PyPI's 2.13.0 on
# the others). One lock for all installs: the local environment (scripts/bootstrap.sh), the CPU/local worker
# image and the cloud (CUDA) worker image (worker/Dockerfile installs worker/requirements.txt constrained by
# it); the cloud image takes PyPI's Linux torch of the same version, the CUDA 13 build.
# Existing pins are kept (uv prefers the versions already in the lock); tests/test_lock.py checks that pip
# resolves the lock on each platform.
# Edit requirements.txt or worker/requirements.txt, then run this and commit both.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
UV=${UV:-$VENV/bin/uv}
# The CPU torch wheel: a local wheelhouse if this machine has one, else PyTorch's CPU index.
set -- --extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match
if [ -n "${PIP_FIND_LINKS:-}" ]; then
  set --
  for d in $PIP_FIND_LINKS; do set -- "$@" --find-links "$d"; done
fi
"$UV" pip compile requirements.txt worker/requirements.txt --universal --python-version 3.11 \
  --fork-strategy fewest --override scripts/torch-platforms.txt "$@" \
  --custom-compile-command "scripts/lock.sh" -o requirements.lock
