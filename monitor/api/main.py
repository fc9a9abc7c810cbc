"""The FastAPI application: routes, error handlers, the scheduler and the console."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from monitor.api.hardening import BodyLimit, SecurityHeaders
from monitor.api.routes import (
    alarms,
    auth,
    console,
    devices,
    downlink,
    frames,
    gateways,
    incidents,
    phones,
    reports,
    respond,
    teams,
    users,
    workers,
)
from monitor.api.validation import valid_input, validation_error
from monitor.channels import registry as channel_registry
from monitor.channels.base import Notifier
from monitor.core.config import Settings, get_settings
from monitor.core.crypto import KeyBox
from monitor.core.db import Database
from monitor.core.jsonsafe import FiniteJSONResponse
from monitor.errors import InvalidInput, MonitorError, RateLimited
from monitor.models import Alarm
from monitor.services import alarms as alarm_service
from monitor.services import scheduler
from monitor.services.auth import LoginThrottle
from monitor.services.events import AlarmLoader, EventHub
from monitor.services.ingest.bulk_rate import BulkRate

STATIC = Path(__file__).resolve().parent.parent / "static"
# The worker's phone app (phone/ at the top of the repository), served at /phone/ so the page,
# its service worker and the API share one origin: no CORS, and the worker's scope is /phone/.
PHONE = Path(__file__).resolve().parent.parent.parent / "phone"


def _loader(db: Database) -> AlarmLoader:
    def load(alarm_id: int) -> dict[str, Any] | None:
        with db.session() as s:
            alarm = s.get(Alarm, alarm_id)
            return alarm_service.payload(s, alarm) if alarm is not None else None

    async def load_async(alarm_id: int) -> dict[str, Any] | None:
        return await run_in_threadpool(load, alarm_id)

    return load_async


def _console_page(request: Request) -> bool:
    """A person's browser opening a console page (not the API, nor a script)."""
    path = request.url.path
    machine = path.startswith(("/v1/", "/static/", "/phone/", "/openapi", "/docs", "/redoc"))
    return not machine and "text/html" in request.headers.get("accept", "")


def _error_page(request: Request, exc: MonitorError) -> Any:
    """A refusal on a console page is a page with the monitor's words and a way back, not JSON."""
    from monitor.api.routes.console.common import templates

    return templates.TemplateResponse(
        request,
        "error.html",
        {"status": exc.status_code, "message": exc.message},
        status_code=exc.status_code,
    )


def create_app(
    settings: Settings | None = None,
    notifier: Notifier | None = None,
    migrate: bool = True,
) -> FastAPI:
    settings = settings or get_settings()
    db = Database(settings.database_url)
    if migrate:
        db.migrate()
    hub = EventHub()
    hub.attach(db.sessionmaker, via_postgres=not db.is_sqlite)
    the_notifier = notifier or channel_registry.from_settings(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub.bind(asyncio.get_running_loop())
        if not db.is_sqlite:
            await hub.start_listening(db.libpq_dsn(), _loader(db))
        task = (
            asyncio.create_task(scheduler.run(db, settings, the_notifier, keybox=app.state.keybox))
            if settings.run_scheduler
            else None
        )
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await hub.stop_listening()

    app = FastAPI(
        title="Vigil monitor",
        version="0.1.0",
        description="Alarm receiving API for Vigil lone-worker fobs, and the operator console.",
        lifespan=lifespan,
        default_response_class=FiniteJSONResponse,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.keybox = KeyBox(settings.master_key)
    app.state.bulk_rate = BulkRate(
        settings.bulk_frames_per_s_per_gateway, settings.bulk_burst_frames
    )
    app.state.hub = hub
    app.state.throttle = LoginThrottle(
        settings.login_max_failures,
        settings.login_window_s,
        settings.login_max_failures_per_address,
        settings.login_max_failures_per_account,
    )
    # Enrolment codes tried from one address, counted apart from logins (routes/phones.py).
    app.state.redeem_throttle = LoginThrottle(settings.login_max_failures, settings.login_window_s)
    app.state.notifier = the_notifier

    @app.exception_handler(MonitorError)
    async def _monitor_error(request: Request, exc: MonitorError) -> JSONResponse:
        headers = {}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.retry_after_s)
        if exc.status_code == 401 and not request.url.path.startswith("/v1/"):
            from fastapi.responses import RedirectResponse

            return RedirectResponse("/login", status_code=303)  # type: ignore[return-value]
        if _console_page(request):
            return _error_page(request, exc)  # type: ignore[no-any-return]
        return JSONResponse(
            {"error": exc.code, "message": exc.message, **exc.fields},
            status_code=exc.status_code,
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> Any:
        # A console address typed or pasted wrong (/workers/abc) is a page saying which part,
        # not the API's JSON; the API keeps its 422 body.
        if not _console_page(request):
            return await validation_error(request, exc)
        first = exc.errors()[0] if exc.errors() else {}
        part = str((first.get("loc") or ("", "address"))[-1])
        why = str(first.get("msg", "not valid"))
        return _error_page(request, InvalidInput(f"This address is not right: {part}: {why}"))

    # Every route but the frame batch, whose items ingest validates one by one (validation.py).
    app.include_router(frames.router)
    checked = [Depends(valid_input)]
    for module in (
        downlink,
        gateways,
        phones,
        alarms,
        incidents,
        devices,
        workers,
        users,
        teams,
        auth,
        reports,
        console,
        respond,
    ):
        app.include_router(module.router, dependencies=checked)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if PHONE.is_dir():  # a monitor installed without the phone app serves no /phone/
        app.mount("/phone", StaticFiles(directory=PHONE, html=True), name="phone")
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit)  # outermost: refuses oversized bodies before anything reads them
    return app


def freeze_startup_heap() -> None:
    """Call once, after create_app, in a process that serves one app until it exits.

    What is alive then (modules, routes, templates, the engine) lives as long as the process.
    Frozen, the collector's full passes no longer walk those objects again and again: on this
    machine they are about 170,000 and a pass took 70 ms, which added 100 ms pauses to a console
    page of a thousand workers. Not in create_app: tests build hundreds of apps in one process,
    and frozen objects are never freed."""
    gc.collect()
    gc.freeze()


def uvicorn_config(app: FastAPI, settings: Settings, host: str, port: int) -> uvicorn.Config:
    """How every monitor is served (`serve`, the demo, tests): X-Forwarded-For and -Proto are
    believed only from settings.forwarded_allow_ips. uvicorn's own default trusts loopback,
    which on a machine without a proxy lets any local client pick its address for the login
    throttle; ours trusts nobody until told."""
    trusted = settings.forwarded_allow_ips.strip()
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
    )
