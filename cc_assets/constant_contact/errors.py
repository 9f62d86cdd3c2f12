"""What can go wrong talking to Constant Contact, as a small hierarchy.

Every error names the endpoint (its path, never its query string) and the HTTP status, and none
carries a token: messages are built from the path and CC's own error text only.
"""

from __future__ import annotations

from datetime import datetime


class ConstantContactError(Exception):
    """Base class: `endpoint` is the request path, `status` the HTTP status (None if none)."""

    def __init__(self, endpoint: str, status: int | None, message: str) -> None:
        self.endpoint = endpoint
        self.status = status
        self.message = message
        super().__init__(f"{endpoint}: {status or 'no response'}: {message}")


class TransientError(ConstantContactError):
    """Worth retrying: the same call may well succeed a moment later."""


class ServerError(TransientError):
    """5xx from Constant Contact."""


class RateLimitedError(TransientError):
    """429 `throttled`: more than the key's requests per second."""


class MalformedResponseError(TransientError):
    """A 200 whose body is not the JSON it should be (truncated, cut off)."""


class TokenRefreshedError(TransientError):
    """401 on a token that has just been replaced: the call is retried with the new one."""


class ConnectionFailedError(TransientError):
    """The connection failed, timed out or dropped mid-body."""


class AuthenticationError(ConstantContactError):
    """401, or the token endpoint refused the refresh token (`invalid_grant`)."""


class PermissionDeniedError(ConstantContactError):
    """403: a missing scope or user privilege."""


class NotFoundError(ConstantContactError):
    """404: no such campaign, activity or contact."""


class BadRequestError(ConstantContactError):
    """400: a parameter Constant Contact refused."""


class ForeignLinkError(ConstantContactError):
    """A `next` href on another origin than the API's: never followed, as the bearer token
    would go with it."""


class QuotaExceededError(ConstantContactError):
    """The daily request quota is spent (CC's `quota_exceeded`, or our own budget)."""

    def __init__(
        self, endpoint: str, status: int | None, message: str, resets_at: datetime
    ) -> None:
        self.resets_at = resets_at
        super().__init__(
            endpoint, status, f"{message}; the quota resets at {resets_at:%Y-%m-%d %H:%M} UTC"
        )


class ConfigurationError(ValueError):
    """A setting that cannot work, found before any call is spent. `variable` names the
    environment variable (or setting) to fix, and the message says how."""

    def __init__(self, variable: str, message: str) -> None:
        self.variable = variable
        super().__init__(f"{variable}: {message}")
