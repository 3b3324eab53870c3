"""Billing: ``GET /v2/billing/serverless`` and ``GET /v2/billing/network-volumes``, from the platform's
ledger (``playbook.local.runtime.billing``) in RunPod's time buckets and shapes, so that reconciliation code
reads the same answer here as on RunPod."""

from __future__ import annotations

from aiohttp import web

from playbook.core.errors import ConfigError
from playbook.local.runtime import billing
from playbook.local.servers.control_api.common import Problem, add_routes_for, ok, state_of


def _window(request: web.Request) -> billing.Window:
    q = request.query
    try:
        return billing.window(q.get("startTime"), q.get("endTime"), q.get("bucketSize"), q.get("lastN"))
    except ConfigError as exc:
        raise Problem(400, str(exc)) from None


async def serverless(request):
    state = state_of(request)
    win = _window(request)
    ledger = state.platform.engine.ledger
    return ok(billing.serverless_records(ledger, win, request.query.get("serverlessId")))


async def network_volumes(request):
    from playbook.api.pricing import STORAGE

    state = state_of(request)
    win = _window(request)
    return ok(billing.volume_records(list(state.volume_bills.values()), win, STORAGE.network_volume_usd_per_gb_month,
                                     request.query.get("networkVolumeId")))


def add_routes(app: web.Application) -> None:
    add_routes_for(app, {
        "/v2/billing/serverless": {"GET": serverless},
        "/v2/billing/network-volumes": {"GET": network_volumes},
    })
