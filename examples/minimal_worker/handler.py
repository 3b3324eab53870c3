"""The smallest worker that serves a diffusers model on RunPod Serverless: start here, add the rest later."""
import base64
import io
import os

import runpod
import torch
from diffusers import DiffusionPipeline

# Load once, when the worker starts (never per job): every job after that pays only for the inference.
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
pipe = DiffusionPipeline.from_pretrained(os.environ.get("MODEL_PATH", "/runpod-volume/models/tiny-sd"),
                                         variant=os.environ.get("MODEL_VARIANT") or None,  # e.g. fp16-only files
                                         dtype=torch.float16 if DEVICE == "cuda" else torch.float32)
pipe.to(DEVICE)


def handler(job):
    args = job["input"]
    size = {k: int(args[k]) for k in ("width", "height") if k in args}  # absent: the model's own size
    image = pipe(args["prompt"], num_inference_steps=int(args.get("num_inference_steps", 25)), **size,
                 generator=torch.Generator(DEVICE).manual_seed(int(args.get("seed", 0)))).images[0]
    png = io.BytesIO()
    image.save(png, format="PNG")
    return {"image": base64.b64encode(png.getvalue()).decode()}


if __name__ == "__main__":
    runpod.serverless.start({"handler": handler})
