"""What can go wrong talking to Constant Contact, as a small hierarchy.

Every error names the endpoint (its path, never its query string) and the HTTP status, and none
carries a token: messages are built from the path and CC's own error text, passed through
`redact` (a server may echo the request, Authorization header included, in its error body).
Where the fix is the user's (a variable to set, a token to renew), the one-line message says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

MESSAGE_CAP = 300
"""Characters of a server's error text kept in a message: enough for CC's sentences, never a
whole echoed page."""

_SECRET_PATTERNS = re.compile(
    r"(?i)(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"  # an Authorization value
    r"|(api_key|access_token|refresh_token|client_secret|password)([\"']?\s*[=:]\s*[\"']?)[^\s&\"',;}]+"
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*"  # anything shaped like a JWT
)


def redact(text: str, secrets: Iterable[str | None] = (), cap: int = MESSAGE_CAP) -> str:
    """`text` with every known secret value and anything shaped like a credential replaced by
    `***`, on one line, at most `cap` characters."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _SECRET_PATTERNS.sub(
        lambda m: (
            f"{m.group(1)} ***"
            if m.group(1)
            else f"{m.group(2)}{m.group(3)}***"
            if m.group(2)
            else "***"
        ),
        text,
    )
    text = " ".join(text.split())
    return text if len(text) <= cap else text[: cap - 1] + "…"


class ConstantContactError(Exception):
    """Base class: `endpoint` is the request path, `status` the HTTP status (None if none)."""

    def __init__(self, endpoint: str, status: int | None, message: str) -> None:
        self.endpoint = endpoint
        self.status = status
        self.message = message
        super().__init__(f"{endpoint}: {status or 'no response'}: {message}")


class TransientError(ConstantContactError):
    """Worth retrying: the same call may well succeed a moment later."""


class RetryAfterError(TransientError):
    """A 429 or 503 that says, in `Retry-After`, how long to wait: `retry_after` seconds."""

    def __init__(
        self, endpoint: str, status: int | None, message: str, retry_after: float | None
    ) -> None:
        self.retry_after = retry_after
        super().__init__(endpoint, status, message)


class ServerError(RetryAfterError):
    """5xx from Constant Contact."""


class RateLimitedError(RetryAfterError):
    """429 `throttled`: more than the key's requests per second."""


class MalformedResponseError(TransientError):
    """A 200 whose body is not the JSON it should be (truncated, cut off)."""


class TokenRefreshedError(TransientError):
    """401 on a token that has just been replaced: the call is retried with the new one."""


class ConnectionFailedError(TransientError):
    """The connection dropped mid-response: retried like a 5xx."""


class UnreachableError(ConnectionFailedError):
    """No connection could be made (refused, DNS, connect timeout): retried a few times within
    seconds, as a host that does not answer now will not answer in a minute either."""


class DeadlineExceededError(ConnectionFailedError):
    """The server accepted the request but did not deliver the whole response in time (never
    answered, or trickled the body): retried once, then given up."""


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


class PaginationError(ConstantContactError):
    """A `next` link that cannot be right: a cursor or href already read in this read (a loop),
    a path other than the report's own, or more pages than the report can hold."""


class UnexpectedResponseError(ConstantContactError):
    """A complete JSON body of the wrong shape (a list for an object, a number for a string, a
    missing key). Not retried: the same call would answer the same."""

    def __init__(self, endpoint: str, status: int | None, field: str, reason: str) -> None:
        self.field = field
        super().__init__(endpoint, status, f"{field}: {reason}")


class InvalidRowError(UnexpectedResponseError):
    """A tracking row that cannot be trusted (a required field missing or mistyped, an event
    of another activity, a timestamp not strict UTC ISO-8601 or later than the response):
    the whole report is refused, so none of its rows reaches the lake or the watermark."""


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
