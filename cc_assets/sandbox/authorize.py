"""`GET /oauth2/default/v1/authorize`: the first leg of CC's authorization-code flow, browser-less.

On the real service a user logs in to one Constant Contact account and consents; the
authorization server then redirects to the app's `redirect_uri` with a single-use `code` and the
app's `state`. The sandbox has no login page, so who "logs in" is decided by the sandbox:

- the sandbox-only query parameter `login_hint=acct3` names the consenting account, else
- the consenting account set on the control API (`PUT /__sandbox__/consent {"account": ...}`,
  `SandboxServer.set_consenting_account`), which is account 0 at start; `null` there plays a
  user who declines: the redirect carries `error=access_denied`.

The request is checked as an OAuth2 authorization server checks it (RFC 6749 §4.1.1-§4.1.2.1,
RFC 7636): an unknown `client_id` or a missing or non-absolute `redirect_uri` is answered here
(400, never redirected to); every other fault is redirected back as `error=...` with the
`state`. `state` is required (CC's authorization server, an Okta one, requires it);
`code_challenge` is optional, and when given its method must be `S256`, the only one offered.
CC takes only the redirect URI registered in the app's settings, exactly; so does the sandbox
when given its app's (`--redirect-uris`); without them it takes any absolute http(s) URI.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from cc_assets.sandbox.oauth import TokenAuthority
from cc_assets.sandbox.responses import JSON

AUTHORIZE_PATH = "/oauth2/default/v1/authorize"
KNOWN_SCOPES = frozenset(
    {
        "account_read",
        "account_update",
        "contact_data",
        "campaign_data",
        "billing_data",
        "offline_access",
        "openid",
    }
)
CHALLENGE_RE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")  # RFC 7636 §4.2


def _with_query(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = urlencode([*parse_qsl(parts.query), *params.items()])
    return urlunsplit(parts._replace(query=query))


def _bad_request(error: str, description: str) -> JSON:
    return JSON({"error": error, "error_description": description}, 400)


class AuthorizeEndpoint:
    """The authorize endpoint of one application; `consenting` is the account whose user
    answers the consent screen (None: the user declines)."""

    def __init__(self, authority: TokenAuthority, redirect_uris: tuple[str, ...] = ()) -> None:
        self.authority = authority
        self.redirect_uris = redirect_uris  # the app's registered ones; () = any
        self.consenting: str | None = authority.accounts[0]

    def set_consenting(self, account: str | None) -> str | None:
        if account is not None and account not in self.authority.accounts:
            raise ValueError(
                f"no sandbox account {account!r} (this server has "
                f"{', '.join(self.authority.accounts)})"
            )
        self.consenting = account
        return account

    async def endpoint(self, request: Request) -> JSON | RedirectResponse:
        params = request.query_params
        if params.get("client_id") != self.authority.client_id:
            return _bad_request("invalid_client", "The 'client_id' is unknown.")
        redirect_uri = params.get("redirect_uri", "")
        target = urlsplit(redirect_uri)
        if target.scheme not in ("http", "https") or not target.netloc or target.fragment:
            return _bad_request(
                "invalid_request", "The 'redirect_uri' must be an absolute http(s) URI."
            )
        if self.redirect_uris and redirect_uri not in self.redirect_uris:
            return _bad_request(
                "invalid_request",
                "The 'redirect_uri' parameter must be a Login redirect URI in the client app "
                "settings.",
            )
        login_hint = params.get("login_hint")
        if login_hint is not None and login_hint not in self.authority.accounts:
            return _bad_request(
                "invalid_request",
                f"login_hint {login_hint!r} names no sandbox account "
                f"({', '.join(self.authority.accounts)}).",
            )
        state = params.get("state")

        def back(**answer: str) -> RedirectResponse:
            if state is not None:
                answer["state"] = state
            return RedirectResponse(_with_query(redirect_uri, answer), status_code=302)

        scopes = params.get("scope", "").split()
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method")
        if params.get("response_type") != "code":
            return back(
                error="unsupported_response_type",
                error_description="The response type must be 'code'.",
            )
        if not state:
            return back(error="invalid_request", error_description="The 'state' is required.")
        if not scopes or not KNOWN_SCOPES.issuperset(scopes):
            return back(
                error="invalid_scope",
                error_description="One or more scopes are not configured for the authorization "
                "server resource.",
            )
        if (challenge is not None or method is not None) and (
            method != "S256" or challenge is None or not CHALLENGE_RE.match(challenge)
        ):
            return back(
                error="invalid_request",
                error_description="PKCE needs a 'code_challenge' of 43-128 characters and "
                "'code_challenge_method' S256.",
            )
        account = login_hint or self.consenting
        if account is None:
            return back(
                error="access_denied",
                error_description="The resource owner or authorization server denied the request.",
            )
        code = self.authority.issue_authorization_code(
            redirect_uri, account=account, scopes=tuple(scopes), code_challenge=challenge
        )
        return back(code=code)


def authorize_routes(endpoint: AuthorizeEndpoint) -> list[Route]:
    return [Route(AUTHORIZE_PATH, endpoint.endpoint, methods=["GET"])]
