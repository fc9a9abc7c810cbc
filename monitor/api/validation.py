"""Input every route takes must be finite numbers and valid UTF-8 text, checked in one place.

JSON allows what Python's parser turns into values nothing downstream can use: `NaN`,
`Infinity` and overflowing literals such as `1e999` become non-finite floats, and `"\\ud800"`
(or the raw bytes ED A0 80, which the parser lets through) becomes a lone surrogate, a str that
cannot be encoded, hashed, stored or rendered as JSON. Left to the routes, each of those was an
anonymous 500 with a traceback. `valid_input` runs before every route's own dependencies and
refuses such a request with a 422 that names the field; `validation_error` renders FastAPI's
own 422s so that a hostile value echoed back in one cannot turn it into a 500.

POST /v1/frames is left out on purpose: its items are validated one by one in the ingest
service, where one bad frame is rejected with a counted reason and never fails the batch.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from monitor.errors import InvalidInput

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
MAX_DEPTH = 64  # deeper JSON than any route takes; deeper still is refused, not walked


def printable(text: str) -> str:
    """`text` with anything that is not valid UTF-8 shown as an escape: safe to echo back."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def problem(value: Any, where: str = "body") -> str | None:
    """The first value in a parsed JSON document that is not finite or not valid UTF-8."""
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        v, at, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"{at}: nested deeper than {MAX_DEPTH} levels"
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError as e:
                return (
                    f"{at}: text must be valid UTF-8; character {e.start} is a lone surrogate "
                    f"({printable(v[e.start])})"
                )
        elif isinstance(v, float):
            if not math.isfinite(v):
                return f"{at}: numbers must be finite, not {v}"
        elif isinstance(v, dict):
            for k, x in v.items():
                name = f"{at}.{printable(str(k))}"
                if isinstance(k, str) and (bad := problem(k, f"{at} (a key)")):
                    return bad
                stack.append((x, name, depth + 1))
        elif isinstance(v, list):
            stack.extend((x, f"{at}[{i}]", depth + 1) for i, x in enumerate(v))
    return None


async def valid_input(request: Request) -> None:
    """Router dependency: refuse non-finite numbers and text that is not UTF-8 in a JSON body,
    a form or the query string, whatever the route and whoever the caller."""
    for key, value in request.query_params.multi_items():
        if bad := problem(key, "query (a key)") or problem(value, f"query.{printable(key)}"):
            raise InvalidInput(bad)
    if request.method in _SAFE_METHODS:
        return
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type.endswith("json"):
        if not await request.body():
            return
        try:
            body = await request.json()  # parsed once: FastAPI reuses the cached result
        except ValueError:
            return  # FastAPI answers malformed JSON with its own 4xx
        if bad := problem(body):
            raise InvalidInput(bad)
    elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        for key, item in form.multi_items():
            if isinstance(item, str) and (bad := problem(item, f"form.{printable(key)}")):
                raise InvalidInput(bad)


def _json_safe(value: Any) -> Any:
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {_json_safe(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, with any echoed input made encodable (the default handler's JSON encoder
    raises on NaN and lone surrogates, which turned a 422 into a 500)."""
    assert isinstance(exc, RequestValidationError)
    detail = _json_safe(jsonable_encoder(exc.errors()))
    first = detail[0] if detail else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    message = f"{where}: {first.get('msg', 'invalid request')}" if first else "invalid request"
    return JSONResponse(
        {"error": "invalid_request", "message": message, "detail": detail}, status_code=422
    )
