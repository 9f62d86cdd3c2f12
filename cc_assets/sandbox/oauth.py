"""The OAuth2 token endpoint and bearer-token checks, as Constant Contact runs them.

Why it is this strict: the sandbox must never be kinder than the real API, so every rule the
reference documents is enforced, and the undocumented ones take the stricter reading.

- Access tokens are HS256 JWTs (per-server random key) with `iat`, `exp` and `scp` claims. CC
  tells clients to read `exp`; `expires_in` is sent as a TTL in seconds, the OAuth2
  meaning, because a client that trusts it as an epoch would be wrong on the live API anyway.
- Refresh tokens are rotating (usable once; a new set voids every earlier one) or long-lived
  (the same token comes back). Either dies 180 days after it was issued or last used.
  A refresh token is only returned when `offline_access` is granted.
- Authorization codes are single-use and live 5 minutes.
- The token endpoint takes 1 request per second; more are answered 429.
- Time comes from `clock`, which must be the wall clock in a served sandbox: clients compare
  `exp` with their own clock, so a simulated "now" in the past would make every token look
  expired to them.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from threading import Lock
from urllib.parse import parse_qsl

import jwt
from starlette.requests import Request
from starlette.routing import Route

from cc_assets.sandbox.responses import JSON, THROTTLED, forbidden, unauthorized

Clock = Callable[[], datetime]

DEFAULT_SCOPES = ("campaign_data", "contact_data", "account_read", "offline_access")
TOKEN_PATH = "/oauth2/default/v1/token"
CODE_LIFETIME = timedelta(minutes=5)
REFRESH_LIFETIME = timedelta(days=180)
INVALID_GRANT = {
    "error": "invalid_grant",
    "error_description": "unknown, invalid, or expired refresh token",
}
INVALID_CODE = {
    "error": "invalid_grant",
    "error_description": "The authorization code is invalid or has expired.",
}
INVALID_CLIENT = {"error": "invalid_client", "error_description": "Client authentication failed."}
# RFC 6749 §5.1: token responses must not be cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def utc_now() -> datetime:
    return datetime.now(UTC)


class UnauthorizedError(Exception):
    """The bearer token is missing, malformed, expired or revoked (answered with a 401)."""


def _oauth_error(error: str, description: str, status: int = 400) -> JSON:
    return JSON({"error": error, "error_description": description}, status, headers=NO_STORE)


class TokenAuthority:
    """Issues and checks one sandbox account's tokens; `expire_all`/`revoke_refresh_tokens`
    let tests make a token die mid-run, as a 24-hour token does in a long backfill."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        lifetime_seconds: int = 86_400,
        rotating: bool = True,
        clock: Clock = utc_now,
        scopes: tuple[str, ...] = DEFAULT_SCOPES,
        token_requests_per_second: float = 1,
        expires_in_text: bool = False,
    ) -> None:
        self.client_id = client_id
        self.expires_in_text = expires_in_text  # `"86400"`, as a v2-era token response had it
        self.client_secret = client_secret
        self.lifetime_seconds = lifetime_seconds
        self.rotating = rotating
        self.clock = clock
        self.scopes = scopes
        self.token_requests_per_second = token_requests_per_second
        self._key = secrets.token_bytes(32)
        self._generation = 0  # access tokens minted before the current generation are expired
        self._refresh_tokens: dict[str, datetime] = {}  # token -> expires at
        self._codes: dict[str, tuple[datetime, str | None]] = {}  # code -> (expires, redirect)
        self._token_calls: deque[float] = deque()
        self._lock = Lock()
        self._signed_claims = lru_cache(maxsize=256)(self._decode)

    # -- issuing -----------------------------------------------------------------------------

    def issue(self) -> dict[str, object]:
        """A new token set, as the token endpoint answers it. Rotating: every earlier refresh
        token dies. Long-lived: the existing refresh token is returned again."""
        now = self.clock()
        with self._lock:
            response: dict[str, object] = {
                "access_token": self._access_token(now),
                "token_type": "Bearer",
                "expires_in": (
                    str(self.lifetime_seconds) if self.expires_in_text else self.lifetime_seconds
                ),
                "scope": " ".join(self.scopes),
            }
            if "offline_access" in self.scopes:
                response["refresh_token"] = self._refresh_token(now)
        return response

    def issue_initial(self) -> dict[str, object]:
        """The set a user gets on first authorizing the app, plus a fresh authorization code so
        the authorization-code grant can be exercised too."""
        return {**self.issue(), "authorization_code": self.issue_authorization_code()}

    def issue_authorization_code(self, redirect_uri: str | None = None) -> str:
        """A code usable once within 5 minutes; when `redirect_uri` is given the token request
        must repeat it exactly (RFC 6749 §4.1.3)."""
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = (self.clock() + CODE_LIFETIME, redirect_uri)
        return code

    def _access_token(self, now: datetime) -> str:
        issued = int(now.timestamp())
        claims = {
            "iss": "cc-sandbox",
            "sub": self.client_id,
            "iat": issued,
            "exp": issued + self.lifetime_seconds,
            "scp": list(self.scopes),
            "gen": self._generation,
            "jti": secrets.token_hex(8),
        }
        return jwt.encode(claims, self._key, algorithm="HS256")

    def _refresh_token(self, now: datetime) -> str:
        expires = now + REFRESH_LIFETIME
        if not self.rotating:
            for token, until in self._refresh_tokens.items():
                if until > now:
                    self._refresh_tokens[token] = expires  # a used long-lived token stays active
                    return token
        token = secrets.token_urlsafe(32)
        if self.rotating:
            self._refresh_tokens.clear()
        self._refresh_tokens[token] = expires
        return token

    # -- checking ----------------------------------------------------------------------------

    def verify(self, authorization_header: str | None) -> frozenset[str]:
        """The scopes of a valid bearer token; `UnauthorizedError` otherwise (never says why:
        CC's 401 body is the same for every cause)."""
        scheme, _, token = (authorization_header or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise UnauthorizedError
        claims = self._signed_claims(token.strip())
        if claims is None or claims[0] != self._generation or claims[1] <= self.clock().timestamp():
            raise UnauthorizedError
        return claims[2]

    def _decode(self, token: str) -> tuple[object, int, frozenset[str]] | None:
        """(generation, exp, scopes) of a token this authority signed, else None.

        A signature check costs more than serving a page, and a token's claims never change,
        so they are verified once per token; expiry and revocation are checked on every call.
        """
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_iat": False, "require": ["exp", "scp"]},
            )
        except jwt.PyJWTError:
            return None
        return claims.get("gen"), int(claims["exp"]), frozenset(claims["scp"])

    def refusal(self, authorization_header: str | None, needed_scope: str) -> JSON | None:
        """What CC answers a request that may not pass (401 object for a bad token, 403 array
        for a missing scope), or None when it may. A Starlette response is an
        ASGI app, so a middleware can `await refusal(scope, receive, send)`."""
        try:
            scopes = self.verify(authorization_header)
        except UnauthorizedError:
            return unauthorized()
        return None if needed_scope in scopes else forbidden(needed_scope)

    def expire_all(self) -> None:
        """Every access token issued so far is expired from now on."""
        with self._lock:
            self._generation += 1

    def revoke_refresh_tokens(self) -> None:
        """Every refresh token is dead: the next refresh answers invalid_grant."""
        with self._lock:
            self._refresh_tokens.clear()

    # -- the token endpoint ------------------------------------------------------------------

    def _refresh_valid(self, token: str) -> bool:
        with self._lock:
            until = self._refresh_tokens.get(token)
            return until is not None and until > self.clock()

    def _spend_code(self, code: str, redirect_uri: str) -> JSON | None:
        """None when the code is good; spent either way, as a code is single-use."""
        with self._lock:
            entry = self._codes.pop(code, None)
        if entry is None or entry[0] <= self.clock():
            return JSON(INVALID_CODE, 400, headers=NO_STORE)
        if entry[1] is not None and entry[1] != redirect_uri:
            return _oauth_error(
                "invalid_grant",
                "The 'redirect_uri' does not match the redirection URI used in the "
                "authorization request.",
            )
        return None

    def _client_ok(self, header: str | None) -> bool:
        scheme, _, encoded = (header or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        client_id, _, secret = decoded.partition(":")
        return secrets.compare_digest(
            client_id.encode(), self.client_id.encode()
        ) & secrets.compare_digest(secret.encode(), self.client_secret.encode())

    def _throttled(self) -> bool:
        """Sliding 1-second window over accepted token requests."""
        if not self.token_requests_per_second:
            return False
        now = time.monotonic()
        with self._lock:
            while self._token_calls and now - self._token_calls[0] >= 1.0:
                self._token_calls.popleft()
            if len(self._token_calls) >= self.token_requests_per_second:
                return True
            self._token_calls.append(now)
        return False

    async def token_endpoint(self, request: Request) -> JSON:
        if self._throttled():
            return JSON(THROTTLED, 429)
        if not self._client_ok(request.headers.get("authorization")):
            return JSON(INVALID_CLIENT, 401, headers={**NO_STORE, "WWW-Authenticate": "Basic"})
        params = dict(request.query_params)  # CC's docs put the grant in the query string
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            params.update(parse_qsl((await request.body()).decode()))
        grant = params.get("grant_type")
        if grant == "refresh_token":
            token = params.get("refresh_token", "")
            if not self._refresh_valid(token):
                return JSON(INVALID_GRANT, 400, headers=NO_STORE)
        elif grant == "authorization_code":
            if not params.get("redirect_uri"):
                return _oauth_error("invalid_request", "The 'redirect_uri' parameter is required.")
            refusal = self._spend_code(params.get("code", ""), params["redirect_uri"])
            if refusal is not None:
                return refusal
        elif grant is None:
            return _oauth_error("invalid_request", "The token request must specify 'grant_type'.")
        else:
            return _oauth_error(
                "unsupported_grant_type",
                "'grant_type' must be 'authorization_code' or 'refresh_token'.",
            )
        return JSON(self.issue(), headers=NO_STORE)


def token_routes(authority: TokenAuthority) -> list[Route]:
    """POST /oauth2/default/v1/token, served next to (never behind) the API limits."""
    return [Route(TOKEN_PATH, authority.token_endpoint, methods=["POST"])]
