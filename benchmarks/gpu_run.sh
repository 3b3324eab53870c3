#!/usr/bin/env bash
# The GPU run of issue 25, prepared: one command on a device machine (H100/H200), under 8 minutes (the four
# stages' limits add up to 450 s).
#   here:  bash benchmarks/gpu_wheels.sh            (diffusers, pydantic, ... into .whl/, git-ignored)
#   there: run(command="bash benchmarks/gpu_run.sh", carry=[".whl"], timeout_s=540)
# then copy the files it leaves in $OUT to benchmarks/baselines/ and commit them.
# What it runs, each stage under its own time limit, the most important first, every figure written as it comes:
#  1. gpu_check.py: the SD-1.5-shaped pipeline (random weights, built on the GPU) at 512x512, 25 steps: it/s for
#     fp32/fp16/bf16, eager and compiled (regional, WORKER_COMPILE=blocks), worker start, first and warm job,
#     peak VRAM against analyze's estimate; warm-up effect; the OOM path.
#  2. step_profile.py on the same model: host syncs per denoising step on the GPU, the host ops table.
#  3. bench_speed_options.py: each speed option in a fresh worker process (fp16): it/s, first job, cold start,
#     compiled options with a cold then a warm compile cache.
#  4. the gpu-marked tests (no device sync per step under torch.cuda's sync debug mode; each option's image).
# GPU_RUN_TINY=1 runs the same stages on the CPU with the tiny demo model (to check this script without a GPU).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
OUT=${OUT:-build/gpu_run}
mkdir -p "$OUT"
TINY=${GPU_RUN_TINY:-0}
if [ "$TINY" != 1 ] && ls .whl/*.whl >/dev/null 2>&1; then  # the device machine's python3 (3.12)
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH} || exit 1
fi
PY=${PYTHON:-python3}
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | awk '{print tolower($2)}' | tr -cd 'a-z0-9')
BASE="$OUT/gpu_check_${GPU:-cpu}.txt"   # "NVIDIA H100 80GB HBM3" -> gpu_check_h100.txt; no GPU: gpu_check_cpu.txt
MODEL=/tmp/sd15-gpu-run
{
  echo "# benchmarks/gpu_run.sh on $(date -u +%F), $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo CPU)"
  $PY -c "import torch, diffusers, transformers; print(f'# torch {torch.__version__} (CUDA {torch.version.cuda}), diffusers {diffusers.__version__}, transformers {transformers.__version__}')"
  echo "# the lock ships $(grep -i '^torch==' requirements.lock)"
} | tee "$BASE"
if [ "$TINY" = 1 ]; then
  CHECK=(--tiny --steps 1 --dtypes fp32 --compile none --keep "$MODEL"); PROFILE=(--model "$MODEL" --side 64 --steps 2)
  OPTIONS=(--model "$MODEL" --side 64 --steps 2 --jobs 1 --only eager,fused_qkv)
else
  CHECK=(--keep "$MODEL"); PROFILE=(--model "$MODEL" --side 512 --steps 4)
  OPTIONS=(--model "$MODEL" --side 512 --steps 25 --jobs 2 --dtype fp16
           --only eager,channels_last,fused_qkv,sdpa:cudnn,compile:unet+graphs)
fi
rm -rf "$MODEL"
echo "## 1. gpu_check" | tee -a "$BASE"
timeout 210 $PY benchmarks/gpu_check.py "${CHECK[@]}" 2>"$OUT/gpu_check.err" | tee -a "$BASE" \
  || echo "gpu_check stopped (rc ${PIPESTATUS[0]}); its stderr: $OUT/gpu_check.err" | tee -a "$BASE"
echo "## 2. step_profile (host syncs per step)" | tee -a "$BASE"
[ -d "$MODEL" ] && timeout 40 $PY benchmarks/step_profile.py "${PROFILE[@]}" --rows 12 2>>"$OUT/gpu_check.err" \
  | tee -a "$BASE"
echo "## 3. speed options (fp16)" | tee -a "$BASE"
[ -d "$MODEL" ] && timeout 160 $PY benchmarks/bench_speed_options.py "${OPTIONS[@]}" 2>>"$OUT/gpu_check.err" \
  | tee -a "$BASE"
echo "## 4. gpu tests" | tee -a "$BASE"
timeout 40 $PY -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_speed.py 2>&1 | tee -a "$BASE"
echo "## done in ${SECONDS} s" | tee -a "$BASE"
