"""A worker whose output breaks the contract: it answers every job (so RunPod's Hub, which checks only for
HTTP 200, would pass it) with an image of the wrong size and no width, height or device fields."""

import base64
import io

import runpod
from PIL import Image


def handler(job):
    if job["input"].get("action") == "health_check":
        return {"status": "fine"}
    buf = io.BytesIO()
    Image.new("RGB", (32, 32)).save(buf, format="PNG")
    return {"images": [{"image": base64.b64encode(buf.getvalue()).decode(), "seed": 1}]}


if __name__ == "__main__":
    runpod.serverless.start({"handler": handler})
