#!/usr/bin/env bash
# Generate images on a runpod-playbook endpoint with curl (and jq, base64).
#
# Why /runsync then /status: /runsync holds the request until the job ends or `wait` ms pass (1000 to
# 300000); a cold worker can take longer, and then the job comes back IN_QUEUE or IN_PROGRESS with its id,
# so we ask /status with a growing pause (0.2 s doubling to 5 s) rather than a fixed sleep.
#
# Usage:
#   export RUNPOD_API_KEY=...  RUNPOD_ENDPOINT_ID=...          # on RunPod
#   eval "$(playbook local env)"   # or the local platform: sets the same three variables
#   examples/curl.sh [job.json]     # a job body {"input": {...}} (default: a 512x512 lighthouse)
# Environment: RUNPOD_ENDPOINT_BASE_URL (default https://api.runpod.ai/v2), OUT_DIR (default outputs),
# TIMEOUT_S (default 600), WAIT_MS (how long /runsync holds, default 90000). Request format: worker/README.md.
set -euo pipefail
: "${RUNPOD_API_KEY:?set RUNPOD_API_KEY to your RunPod API key, or for the local platform run: eval \"\$(playbook local env)\"}"
: "${RUNPOD_ENDPOINT_ID:?set RUNPOD_ENDPOINT_ID to the endpoint id (playbook deploy prints it)}"
base="${RUNPOD_ENDPOINT_BASE_URL:-https://api.runpod.ai/v2}"
base="${base%/}/$RUNPOD_ENDPOINT_ID"
out_dir="${OUT_DIR:-outputs}"
deadline=$(( $(date +%s) + ${TIMEOUT_S:-600} ))
if [ $# -ge 1 ]; then body=$(cat "$1"); else
  body='{"input": {"prompt": "a lighthouse on a cliff at dusk, oil painting", "width": 512, "height": 512}}'
fi
# the key goes in a header read from stdin, so it does not show in the process list
headers=$(printf 'authorization: %s\ncontent-type: application/json' "$RUNPOD_API_KEY")

reply=$(curl -sS -H @- -d "$body" "$base/runsync?wait=${WAIT_MS:-90000}" <<<"$headers")
id=$(jq -r '.id // empty' <<<"$reply")
status=$(jq -r '.status // empty' <<<"$reply")
[ -n "$status" ] || { echo "error: the endpoint answered: ${reply:0:300}" >&2; exit 1; }
pause=0.2
while [ "$status" = IN_QUEUE ] || [ "$status" = IN_PROGRESS ]; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "error: job $id still $status after ${TIMEOUT_S:-600} s; its status: $base/status/$id" >&2; exit 1
  fi
  sleep "$pause"
  pause=$(awk -v p="$pause" 'BEGIN { p *= 2; print (p > 5 ? 5 : p) }')
  reply=$(curl -sS -H @- "$base/status/$id" <<<"$headers")
  status=$(jq -r .status <<<"$reply")
done
if [ "$status" != COMPLETED ]; then
  echo "error: job $id $status: $(jq -r '.error // "no error given"' <<<"$reply" | head -c 500)" >&2; exit 1
fi

mkdir -p "$out_dir"
format=$(jq -r '.output.output_format // "png"' <<<"$reply")
count=$(jq '.output.images | length' <<<"$reply")
for ((i = 0; i < count; i++)); do
  file="$out_dir/$id-$i.$format"
  url=$(jq -r ".output.images[$i].url // empty" <<<"$reply")
  if [ -n "$url" ]; then  # a bucket was configured: the worker returned URLs
    curl -sS -o "$file" "$url"
  else
    jq -r ".output.images[$i].image" <<<"$reply" | base64 -d > "$file"
  fi
  seed=$(jq ".output.images[$i].seed" <<<"$reply")
  echo "saved $file (seed $seed)"
done
