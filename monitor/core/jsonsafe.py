"""JSON for browsers and webhooks that cannot be poisoned by one stored value.

Python's json writes float('inf') as `Infinity`, which is not JSON: a browser's JSON.parse
refuses the whole document, so one alarm stored with an infinite latitude once emptied the
operators' queue and stopped its live stream. Starlette's own JSONResponse refuses such a value
with a ValueError instead: a 500 for the whole list. Either way one value blinds everyone.
Here a non-finite number becomes null (and a lone surrogate, which UTF-8 cannot carry, U+FFFD):
that one field is lost, the page and every other alarm on it are not.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from fastapi.responses import JSONResponse

log = logging.getLogger("vigil.jsonsafe")


def finite(value: Any) -> Any:
    """A copy of `value` with every non-finite float replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def dumps(value: Any, **kw: Any) -> str:
    """json.dumps that never emits NaN/Infinity: such values are logged and sent as null."""
    try:
        return json.dumps(value, allow_nan=False, **kw)
    except ValueError:
        log.warning("non-finite number in a response; sent as null")
        return json.dumps(finite(value), allow_nan=False, **kw)


def encode(text: str) -> bytes:
    # A lone surrogate cannot be UTF-8: replaced rather than failing the response.
    return text.encode("utf-8", errors="replace")


class FiniteJSONResponse(JSONResponse):
    """The app's default response: as Starlette's, but never a 500 for one bad number."""

    def render(self, content: Any) -> bytes:
        return encode(dumps(content, ensure_ascii=False, separators=(",", ":")))
