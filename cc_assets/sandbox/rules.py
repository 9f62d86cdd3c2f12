"""The bearer-token check in front of the API paths (401 object, 403 array, as CC answers).

The middleware order is set in `app.py`: limits -> faults -> auth, outermost first, so a
request that draws a fault or a 401 still counts against the rate and the quota.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from cc_assets.sandbox.limits import is_api_request
from cc_assets.sandbox.oauth import TokenAuthority
from cc_assets.sandbox.responses import JSON

CONTACT_PATHS = ("/v3/contacts", "/v3/reports/contact_reports")


V2_ACCEPTED = ("application/json", "application/*", "*/*")


def _v2_accept_refusal(scope: Scope) -> JSON | None:
    """v2 answers 406 to an Accept header that rules out JSON (a missing one is fine)."""
    accept = dict(scope["headers"]).get(b"accept", b"").decode("latin-1").lower()
    if not accept or any(kind in accept for kind in V2_ACCEPTED):
        return None
    return JSON(
        [
            {
                "error_key": "http.status.not_acceptable",
                "error_message": "Unsupported accept header value, must be application/json",
            }
        ],
        status_code=406,
    )


class BearerAuth:
    """A valid, unexpired bearer token with the scope the path needs; v2 also needs api_key."""

    def __init__(self, app: ASGIApp, authority: TokenAuthority, api_key: str) -> None:
        self.app = app
        self.authority = authority
        self.api_key = api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_api_request(scope):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1") or None
        needed = "contact_data" if path.startswith(CONTACT_PATHS) else "campaign_data"
        refusal = self.authority.refusal(header, needed)
        if refusal is None and path.startswith("/v2/"):
            refusal = _v2_accept_refusal(scope)
        if refusal is None and path.startswith("/v2/"):
            query = scope.get("query_string", b"").decode()
            if f"api_key={self.api_key}" not in query.split("&"):
                refusal = JSON(
                    [
                        {
                            "error_key": "http.status.unauthorized",
                            "error_message": "api_key is missing or invalid.",
                        }
                    ],
                    status_code=401,
                )
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)
