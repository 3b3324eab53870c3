"""RunPod's REST API v2 subset, served by the local platform on loopback.

Why: ``playbook.deploy`` and ``playbook.api.control`` must run unchanged against RunPod and against the
laptop. So the local platform answers the same paths as ``https://api.runpod.io/v2`` with the spec's
shapes: wrapped lists (``{"endpoints": [...]}``), ``201`` on create, ``204`` on delete, and RFC 9457
problem objects (``application/problem+json``: ``title``, ``status``, ``detail``, ``errors``) for every
refusal. The contract tests validate every response here against ``rest-v2-beta.openapi.json``.

What it serves: ``/v2/serverless`` (create, list, get, PATCH, delete; ``/workers``; ``/releases``),
``/v2/templates``, ``/v2/network-volumes``, ``/v2/registries`` (credentials are kept in memory and never
returned), ``/v2/catalog/gpus`` (the dated pool table of ``playbook.api.gpus`` with a local stock table per
data center) and ``/v2/catalog/datacenters``. An endpoint created here becomes an ``EndpointConfig`` on
the platform, live on the job API at once, with its network volume's local folder
(``<build>/network-volumes/<id>``) as its ``/runpod-volume``. ``/v2/billing/serverless`` and
``/v2/billing/network-volumes`` answer from the platform's billing ledger; ``/workers`` and ``/workers/{id}/logs``
show each worker and its log as RunPod does. Not served: pods, clusters, other billing, CPU endpoints,
load-balancer endpoints, ECR delegations, SSH keys.

Layout: one module per resource family (``endpoints``, ``releases``, ``workers`` (an endpoint's workers and
their logs), ``templates``, ``volumes``, ``registries``, ``catalog``), each with its own ``add_routes(app)``; ``common``
holds what they share (problems, body parsing, ids, the control state, the key-checking middleware).
"""

from __future__ import annotations

from aiohttp import web

from playbook.local.servers.control_api import (
    billing,
    catalog,
    endpoints,
    registries,
    releases,
    templates,
    volumes,
    workers,
)
from playbook.local.servers.control_api.common import STATE, ControlState, problems_middleware
from playbook.local.servers.control_api.volumes import volume_folder

__all__ = ["add_routes", "volume_folder"]


def add_routes(app: web.Application, platform) -> None:
    """Register the REST v2 subset on the platform's aiohttp app (the server's route-provider hook)."""
    state = ControlState(platform)
    app[STATE] = state
    platform.control_state = state  # read outside HTTP: the scaler bills at its catalog's prices, S3 finds volumes
    app.middlewares.append(problems_middleware(platform))
    for family in (endpoints, releases, workers, templates, volumes, registries, catalog, billing):
        family.add_routes(app)
