"""The heavy imports of a worker's start, for the local platform only: its fork server
(playbook/local/supervision/forking.py) imports this file once and forks each local worker of this folder from
there, so that a worker does not import torch, diffusers and transformers again (about 5 CPU seconds each time).

RunPod never runs it (the image leaves it out: .dockerignore): a worker there, and a cold local one, imports the
same modules itself in handler.py. It sets the handler's environment defaults first, because these libraries
read them when imported. The runpod SDK is not imported here: each worker imports it with its own RUNPOD_*.
"""

import os

os.environ.setdefault("RUNPOD_LOG_LEVEL", "INFO")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from imagegen import pipeline  # noqa: E402

pipeline.quiet_torchvision_fallback()

import diffusers  # noqa: E402
import torch  # noqa: E402, F401
import transformers  # noqa: E402

# the classes of the pipelines the tests and the journey serve (diffusers and transformers import lazily)
for name in ("DiffusionPipeline", "StableDiffusionPipeline", "StableDiffusionXLPipeline", "UNet2DConditionModel",
             "AutoencoderKL", "DDIMScheduler", "EulerDiscreteScheduler", "PNDMScheduler"):
    getattr(diffusers, name)
for name in ("CLIPTextModel", "CLIPTextModelWithProjection", "CLIPTokenizer"):
    getattr(transformers, name)
