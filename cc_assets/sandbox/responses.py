"""Response bodies shaped the way Constant Contact shapes them.

Most errors are an ARRAY of `{error_key, error_message}`; 401 and 429 are a single object.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JSON(Response):
    """A JSON response; `bytes` content is taken as already-rendered JSON (the hot pages)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else orjson.dumps(content)


def error_array(status: int, key: str, message: str) -> JSON:
    return JSON([{"error_key": key, "error_message": message}], status_code=status)


def bad_request(message: str, key: str = "query.param.invalid") -> JSON:
    return error_array(400, key, message)


def not_found(message: str = "The requested resource was not found.") -> JSON:
    return error_array(404, "resource.not_found", message)


def unauthorized() -> JSON:
    return JSON({"error_key": "unauthorized", "error_message": "Unauthorized"}, status_code=401)


def forbidden(scope: str) -> JSON:
    return error_array(
        403,
        "forbidden",
        f"Forbidden request. You lack the necessary scopes ({scope}), you lack the necessary "
        "user privileges, or the application is deactivated.",
    )


THROTTLED = {"error_key": "throttled", "error_message": "Too Many Requests"}
QUOTA_EXCEEDED = {"error_key": "quota_exceeded", "error_message": "Limit Exceeded"}
SERVER_ERROR = [
    {"error_key": "server.error", "error_message": "There was a problem with our internal service."}
]
UNAVAILABLE = [
    {
        "error_key": "service.unavailable",
        "error_message": "Our internal service is temporarily unavailable.",
    }
]
