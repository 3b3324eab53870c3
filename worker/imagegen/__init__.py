"""The worker's text-to-image service, one module per concern.

schema (what a request may ask), results (what a job returns), fitness (are the model files there and
whole), pipeline (load once, generate), outputs (encode, size caps, bucket upload), service (the actions
behind the handler). This package runs inside the worker image: it must not import ``playbook``.
"""
