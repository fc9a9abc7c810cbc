"""The console: server-rendered pages for operators, supervisors and admins. Each module holds
the pages of one job; their forms call the JSON API (static/console.js `forms`)."""

from __future__ import annotations

from fastapi import APIRouter

from monitor.api.routes.console import (
    accounts,
    alarms,
    common,
    fleet,
    gateways,
    incidents,
    people,
    reports,
    session,
)

router = APIRouter(include_in_schema=False)
for _module in (session, alarms, fleet, people, reports, incidents, accounts, gateways):
    router.include_router(_module.router)

duration = common.duration  # re-exported for the damaged-rows tests

__all__ = ["router", "duration"]
