"""The bearer-token check in front of the API paths (401 object, 403 array, as CC answers).

The middleware order is set in `app.py`: caller -> limits -> faults -> auth, outermost first,
so a request that draws a fault or a 401 still counts against the rate and the quota. The
token is read once, outermost (`ReadCaller`), so the request log and the per-account faults
know whose call it was; it is judged innermost (`BearerAuth`).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from cc_assets.sandbox.limits import ACCOUNT_KEY, is_api_request
from cc_assets.sandbox.oauth import Grant, TokenAuthority, refusal
from cc_assets.sandbox.responses import JSON

CONTACT_PATHS = ("/v3/contacts", "/v3/reports/contact_reports")
ACCOUNT_PATHS = ("/v3/account/",)
GRANT_KEY = "cc_sandbox.grant"
"""The ASGI scope key `ReadCaller` stores the request's `Grant` (or None) under."""


def needed_scope(path: str) -> str:
    """The scope CC's spec asks of a path (`x-authorization-privileges`)."""
    if path.startswith(ACCOUNT_PATHS):
        return "account_read"
    return "contact_data" if path.startswith(CONTACT_PATHS) else "campaign_data"


class ReadCaller:
    """Reads the bearer token of an API request into its scope: the `Grant` (or None for a
    token that may not pass) and the account it belongs to. Refuses nothing itself."""

    def __init__(self, app: ASGIApp, authority: TokenAuthority) -> None:
        self.app = app
        self.authority = authority

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if is_api_request(scope):
            header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1") or None
            grant = self.authority.grant_of(header)
            scope[GRANT_KEY] = grant
            scope[ACCOUNT_KEY] = grant.account if grant is not None else None
        await self.app(scope, receive, send)


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

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.api_key = api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_api_request(scope):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        grant: Grant | None = scope.get(GRANT_KEY)
        refused = refusal(grant, needed_scope(path))
        if refused is None and path.startswith("/v2/"):
            refused = _v2_accept_refusal(scope)
        if refused is None and path.startswith("/v2/"):
            query = scope.get("query_string", b"").decode()
            if f"api_key={self.api_key}" not in query.split("&"):
                refused = JSON(
                    [
                        {
                            "error_key": "http.status.unauthorized",
                            "error_message": "api_key is missing or invalid.",
                        }
                    ],
                    status_code=401,
                )
        if refused is not None:
            await refused(scope, receive, send)
            return
        await self.app(scope, receive, send)
