"""Every error the monitor raises on purpose, under one base, in this one module.

Each subclass maps to an HTTP status and a stable `code`, and its message tells the caller what
to do next. `fields` are structured details that go into the JSON answer beside them
(`{"error": "not_found", "message": "alarm 9 does not exist", "alarm_id": 9}`); subclasses
with details every instance has take them as keyword arguments and keep them as attributes too.

(The gateway has an unrelated `gateway.errors.MonitorError`, "no useful answer from the
monitor", under its own `GatewayError`: the two packages never import each other's errors.)
"""

from __future__ import annotations


class MonitorError(Exception):
    status_code = 400
    code = "monitor_error"

    def __init__(self, message: str, **fields: object) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields


class InvalidInput(MonitorError):
    # A value the schema cannot express a rule for (non-finite number, text that is not
    # UTF-8, a too-short new password): fix the named field and send again.
    status_code = 422
    code = "invalid_input"


class NotFound(MonitorError):
    status_code = 404
    code = "not_found"


class Conflict(MonitorError):
    status_code = 409
    code = "conflict"


class InvalidTransition(MonitorError):
    # e.g. resolving an alarm twice: the caller's view is stale, reload and retry.
    status_code = 409
    code = "invalid_transition"


class NotAuthenticated(MonitorError):
    status_code = 401
    code = "not_authenticated"


class Forbidden(MonitorError):
    status_code = 403
    code = "forbidden"


class CsrfFailed(MonitorError):
    status_code = 403
    code = "csrf_failed"


class RateLimited(MonitorError):
    # Too many failed logins or enrolment codes: wait retry_after_s (also sent as Retry-After).
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message, retry_after_s=retry_after_s)
        self.retry_after_s = retry_after_s


class BadBatch(MonitorError):
    # A packed ingest body whose lengths or counts do not add up (truncated, padded, a count
    # over the maximum): refused whole, nothing in it applied. Fix the relay and resend.
    status_code = 400
    code = "bad_batch"


class UnsupportedMediaType(MonitorError):
    status_code = 415
    code = "unsupported_media_type"


class PayloadTooLarge(MonitorError):
    # Raised by the body limit (api/hardening.py) before any route reads the body: send less.
    status_code = 413
    code = "payload_too_large"

    def __init__(self, message: str, *, max_bytes: int) -> None:
        super().__init__(message)
        self.max_bytes = max_bytes


class Unavailable(MonitorError):
    # The monitor cannot serve this now but will: retry the request (or, at start-up, fix the
    # named dependency and start again).
    status_code = 503
    code = "unavailable"


class DatabaseBusy(Unavailable):
    # SQLite stayed locked longer than core/db.py SQLITE_LOCK_TIMEOUT_S.
    code = "database_busy"


class ListenerUnavailable(Unavailable):
    # PostgreSQL LISTEN could not be set up at start-up (services/events.py).
    code = "listener_unavailable"


class NotifyFailed(MonitorError):
    # One escalation delivery failed (network, HTTP status, SMTP reply, modem error): recorded
    # on the delivery and retried with backoff by services/escalation.py; never reaches an HTTP
    # client. permanent: retrying cannot help (a refused address, a 4xx, an unknown number), so
    # the delivery is dead-lettered at once instead of being retried for minutes.
    status_code = 502
    code = "notify_failed"

    def __init__(
        self, message: str, *, http_status: int | None = None, permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.permanent = permanent


class UnsafeSettings(MonitorError):
    # Raised at start-up, never over HTTP: refuse to run with development secrets in production.
    code = "unsafe_settings"


class EnrolmentUnknown(NotFound):
    # No such code: mistyped, or never issued. Ask for a new one from the console.
    code = "enrolment_unknown"


class EnrolmentExpired(MonitorError):
    status_code = 410
    code = "enrolment_expired"


class EnrolmentUsed(Conflict):
    code = "enrolment_used"


class DC09Error(MonitorError):
    # Bytes that are not a DC-09 message the monitor can read (an ARC's answer, or a frame
    # given to the decoder): the message says which part is wrong. Never an API answer in
    # itself; the forwarder records it on the forward and retries (services/arc_forwarding.py).
    status_code = 502
    code = "dc09_malformed"


class ArcUnreachable(MonitorError):
    # The alarm receiving centre did not take a message: refused, timed out, or answered
    # NAK/DUH. The forward stays due and is tried again with backoff.
    status_code = 502
    code = "arc_unreachable"


class LinkForged(MonitorError):
    # An escalation contact's answer link that this monitor did not sign, or is damaged.
    status_code = 400
    code = "link_forged"


class LinkExpired(MonitorError):
    # Past its expiry, or its alarm is resolved: no answer is needed any more.
    status_code = 410
    code = "link_expired"


class LinkUsed(Conflict):
    # The contact answered already; the first answer stands.
    code = "link_used"
