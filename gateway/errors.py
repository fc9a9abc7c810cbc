"""One error base for the gateway; each subclass says what the operator of the box should do."""


class GatewayError(Exception):
    """Base of everything the gateway raises on purpose."""


class ConfigError(GatewayError):
    """The configuration is unusable: fix the flag, environment variable or TOML file named."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem


class QueueError(GatewayError):
    """The durable queue cannot be opened or written: check the disk and the --queue path."""


class MonitorLinkError(GatewayError):
    """No useful answer from the monitor; `retry_after` is the backoff for this kind."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class MonitorUnreachable(MonitorLinkError):
    """No HTTP answer (refused, reset, timed out): the monitor or the network is down."""


class MonitorOverloaded(MonitorLinkError):
    """The monitor answered 5xx or 429: it is up but cannot take the batch now."""


class MonitorRefused(MonitorLinkError):
    """The monitor refused this gateway (401/403) or the request (4xx): check the gateway token."""

    def __init__(self, message: str, *, status: int, retry_after: float) -> None:
        super().__init__(message, retry_after=retry_after)
        self.status = status


class TransportError(GatewayError):
    """A link to a fob failed; the transport reconnects on its own."""

    def __init__(self, port: str, problem: str) -> None:
        super().__init__(f"{port}: {problem}")
        self.port = port
        self.problem = problem


class PairingError(GatewayError):
    """A fob could not be paired: bring it close, tap it five times (its pairing window), retry."""
