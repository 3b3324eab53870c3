"""HTTP faces of the local platform: RunPod's job API, the worker protocol, the REST v2 control subset,
and local-only extras. Each module adds its routes to one aiohttp app (``app.build_app``)."""
