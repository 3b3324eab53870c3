"""A slow but healthy worker: its job takes ``input.steps`` steps of ``input.step_s`` seconds (defaults
8 x 0.5 s), printing a line and reporting progress after each, like a diffusion loop. The doctor must
call this "healthy but slow", not "hung"."""

import time

import runpod


def work(job):
    data = job["input"]
    steps, step_s = int(data.get("steps", 8)), float(data.get("step_s", 0.5))
    for step in range(1, steps + 1):
        time.sleep(step_s)
        print(f"step {step}/{steps}", flush=True)
        runpod.serverless.progress_update(job, {"step": step, "steps": steps})
    return {"steps": steps}


if __name__ == "__main__":
    runpod.serverless.start({"handler": work})
