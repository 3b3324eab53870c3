#!/usr/bin/env bash
# Run HERE (no GPU needed), before benchmarks/gpu_run.sh on a device machine: downloads into .whl/ (git-ignored)
# the wheels the worker's code needs there beyond that machine's image (which holds torch, accelerate,
# safetensors, huggingface_hub, numpy, pillow but not diffusers or pydantic), at this repo's locked versions,
# for its Python 3.12 on x86-64. About 20 MB; the device call carries it: run(..., carry=[".whl"]).
# torch itself cannot travel (the CUDA wheel is far over the 64 MiB a call carries): the run uses the image's
# torch and the baseline file says which.
set -euo pipefail
cd "$(dirname "$0")/.."
lock() { grep -i "^$1==" requirements.lock | head -1; }
rm -rf .whl && mkdir -p .whl
PY=${PYTHON:-.venv/bin/python}
for name in diffusers transformers tokenizers pydantic pydantic-core annotated-types typing-inspection \
            importlib-metadata; do
  spec=$(lock "$name"); spec=${spec:-$name}
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl "$spec"
done
ls -la .whl && du -sh .whl
