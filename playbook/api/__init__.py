"""The clients of RunPod's APIs that every phase uses: HTTP, the REST v2 control client and its typed endpoint
model, the job client, the GPU catalog, prices and billing rules, RunPod's scaling rule, and connecting to a
target (``targets``: the local platform or RunPod)."""
