"""One error base for the monitor; each subclass maps to an HTTP status and tells what to do."""

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
    status_code = 429
    code = "rate_limited"


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
