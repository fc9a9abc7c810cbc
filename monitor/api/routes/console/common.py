"""What every console page shares: the templates and their filters, and who may open a page."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from monitor.api.deps import (
    Principal,
    PrincipalDep,
)
from monitor.core import jsonsafe
from monitor.errors import Forbidden, NotAuthenticated
from monitor.models import User, utcnow
from monitor.services import scope

templates = Jinja2Templates(directory=str(Path(__file__).resolve().parents[3] / "templates"))


def ago(value: str | dt.datetime | None) -> str:
    """'3 min 20 s ago': every age an operator reads carries its unit."""
    if value is None:
        return "never"
    t = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    s = int((utcnow() - t).total_seconds())
    if s < 0:
        return "just now"
    if s < 60:
        return f"{s} s ago"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s ago"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min ago"
    return f"{s // 86400} d {s % 86400 // 3600} h ago"


def duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "—"  # a non-finite figure from a damaged row is no duration
    if seconds < 60:
        return f"{seconds:.1f} s"
    s = int(seconds)
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def clock(value: str | dt.datetime | None) -> Markup:
    """`<time datetime="ISO" title="… UTC">… UTC</time>`: UTC as served, so the page reads right
    without scripts; console.js rewrites the text into the browser's own time zone and keeps UTC
    in the title (hover). A naive time is the database's UTC."""
    if value is None:
        return Markup("—")
    t = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    t = t.astimezone(dt.UTC)
    utc = t.strftime("%d %b %Y %H:%M:%S UTC")
    return Markup('<time class="clock" datetime="{}" title="{}">{}</time>').format(
        t.isoformat().replace("+00:00", "Z"), utc, t.strftime("%d %b %H:%M:%S UTC")
    )


_SOURCE_WORDS = {"phone_gps": "phone GPS", "gateway_site": "gateway site"}


def position_words(alarm: dict[str, Any]) -> str:
    """'phone GPS ±12 m, 8 s old' / 'gateway site ±50 m': where the position came from, how
    precise and how old it was (console.js `where` says the same on the cards)."""
    loc = alarm.get("location")
    if not loc:
        return ""
    source = alarm.get("location_source")
    # An older gateway does not say where its position came from; the page already names it.
    words = _SOURCE_WORDS.get(source or "", "source not given")
    acc = loc.get("accuracy_m")
    out = f"{words} ±{acc:.0f} m" if acc is not None else f"{words} ± ? m"
    age = alarm.get("location_fix_age_s")
    if age is not None:
        out += f", {duration(age) if age >= 60 else f'{int(age)} s'} old"
    return out


templates.env.filters["ago"] = ago
templates.env.filters["position_words"] = position_words
templates.env.filters["clock"] = clock
templates.env.filters["duration"] = duration
templates.env.filters["tojson_attr"] = lambda v: jsonsafe.dumps(v)
# `tojson` in templates (the queue's initial alarms) must never write Infinity: see jsonsafe.
templates.env.policies["json.dumps_function"] = jsonsafe.dumps


CHANGE_PASSWORD_PAGE = "/account/password"


def console_user(request: Request, p: PrincipalDep) -> Principal:
    if p.user is None or p.role not in scope.STAFF_ROLES:
        raise NotAuthenticated("log in to use the console")
    if p.user.must_change_password and request.url.path not in (CHANGE_PASSWORD_PAGE, "/logout"):
        # Every page sends them to choose their own password first (the API refuses them too).
        raise HTTPException(303, "change your password first", {"Location": CHANGE_PASSWORD_PAGE})
    return p


ConsoleUser = Annotated[Principal, Depends(console_user)]


def page(request: Request, name: str, p: Principal, **ctx: Any) -> HTMLResponse:
    return templates.TemplateResponse(
        request, name, {"user": p.user, "role": p.role, "csrf": p.csrf_token, **ctx}
    )


def console_manager(p: ConsoleUser) -> Principal:
    """Pages for the people who keep workers' records: supervisors and admins."""
    if p.role not in (scope.SUPERVISOR, "admin"):
        raise Forbidden("supervisors and admins only")
    return p


ConsoleManager = Annotated[Principal, Depends(console_manager)]


def console_admin(p: ConsoleUser) -> Principal:
    if p.role != "admin":
        raise Forbidden("admins only")
    return p


ConsoleAdmin = Annotated[Principal, Depends(console_admin)]


def operator_user_of(p: Principal) -> User:
    assert p.user is not None  # guaranteed by console_user
    return p.user
