"""SMS through an HTTP provider (Twilio, MessageBird, an in-house gateway...) by request template.

The provider is described, not coded: a URL, a method, a body template and its format. {to} and
{text} in the URL and body are replaced with the number and message, escaped for where they
land (URL-quoted in the URL and in form bodies, JSON-escaped in JSON bodies), so a message with
quotes or ampersands cannot break the request. The Authorization header comes from settings.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Literal
from urllib.parse import quote, quote_plus

import httpx

from monitor.channels import text
from monitor.channels.base import Notifier, http_failure
from monitor.channels.phone_numbers import e164
from monitor.errors import NotifyFailed
from monitor.models import Contact

BodyFormat = Literal["json", "form"]


@dataclasses.dataclass(frozen=True)
class SmsHttpConfig:
    url: str
    method: Literal["POST", "GET"] = "POST"
    body_template: str = '{"to": "{to}", "text": "{text}"}'
    body_format: BodyFormat = "json"
    authorization: str | None = None  # the whole header value, e.g. "Bearer ..." or "Basic ..."
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        # Caught at start-up, not at the first alarm: a template that never names the number
        # would send every SMS to nobody.
        sent = self.url + ("" if self.method == "GET" else self.body_template)
        missing = [f for f in ("{to}", "{text}") if f not in sent]
        if missing:
            raise ValueError(f"SMS provider template has no {' or '.join(missing)}")
        if not self.url.startswith(("https://", "http://")):
            raise ValueError(f"SMS provider URL must be http(s): {self.url!r}")


def _fill(template: str, escape: Any, to: str, body: str) -> str:
    # str.replace, not str.format: JSON templates are full of braces.
    return template.replace("{to}", escape(to)).replace("{text}", escape(body))


def _json_escape(s: str) -> str:
    return json.dumps(s)[1:-1]


def request_for(config: SmsHttpConfig, to: str, body: str) -> httpx.Request:
    url = _fill(config.url, lambda s: quote(s, safe=""), to, body)
    headers = {}
    if config.authorization:
        headers["Authorization"] = config.authorization
    if config.method == "GET":
        return httpx.Request("GET", url, headers=headers)
    if config.body_format == "json":
        content = _fill(config.body_template, _json_escape, to, body)
        headers["Content-Type"] = "application/json"
    else:
        content = _fill(config.body_template, quote_plus, to, body)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    return httpx.Request("POST", url, content=content.encode(), headers=headers)


class SmsHttpChannel(Notifier):
    channel = "sms_http"

    def __init__(self, config: SmsHttpConfig, client: httpx.Client | None = None) -> None:
        self._config = config
        self._client = client or httpx.Client(timeout=config.timeout_s)

    def send(self, contact: Contact, message: dict[str, Any]) -> None:
        to = e164(contact.target)
        try:
            request = request_for(self._config, to, text.sms(message))
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as e:
            raise NotifyFailed(f"SMS provider URL: {e}", permanent=True) from e
        try:
            r = self._client.send(request)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as e:
            raise NotifyFailed(f"SMS provider URL: {e}", permanent=True) from e
        except httpx.HTTPError as e:
            raise NotifyFailed(f"SMS provider {type(e).__name__}: {e}") from e
        if r.status_code >= 300:
            raise http_failure(r.status_code, r.text)
