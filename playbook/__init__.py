"""runpod-playbook: take a model folder to a RunPod Serverless endpoint with zero idle cost.

Each phase of the journey lives in its own module (README.md, "Layout"): config, analyze,
volume, build, control, jobs, monitor, cost, doctor, and the local platform under ``playbook.local``.
"""

__version__ = "0.1.0"
