"""The OAuth2 token endpoint and bearer-token checks, as Constant Contact runs them.

Why it is this strict: the sandbox must never be kinder than the real API, so every rule the
reference documents is enforced, and the undocumented ones take the stricter reading.

- One authority serves every account of the application (one client id and secret); each
  token belongs to one account: an access token names it in its `account` claim, a refresh
  token or an authorization code is recorded with it, and the API serves that account's data.
- Access tokens are HS256 JWTs (per-server random key) with `iat`, `exp` and `scp` claims. CC
  tells clients to read `exp`; `expires_in` is sent as a TTL in seconds, the OAuth2
  meaning, because a client that trusts it as an epoch would be wrong on the live API anyway.
- Refresh tokens are rotating (usable once; a new set voids every earlier one of the same
  account) or long-lived (the same token comes back). Either dies 180 days after it was issued
  or last used. A refresh token is only returned when `offline_access` is granted.
- Revoking an account's grant (its owner removed the app) kills its refresh tokens and its
  access tokens at once; the other accounts' tokens are untouched.
- Authorization codes are single-use and live 5 minutes. A code issued for a PKCE challenge
  (S256, the only method CC's authorization server offers) is spent only with the verifier
  that hashes to it; a verifier sent for a code issued without a challenge is refused too.
- The token endpoint takes 1 request per second; more are answered 429.
- Time comes from `clock`, which must be the wall clock in a served sandbox: clients compare
  `exp` with their own clock, so a simulated "now" in the past would make every token look
  expired to them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from threading import Lock
from typing import NamedTuple
from urllib.parse import parse_qsl

import jwt
from starlette.requests import Request
from starlette.routing import Route

from cc_assets.sandbox.responses import JSON, THROTTLED, forbidden, unauthorized

Clock = Callable[[], datetime]

DEFAULT_SCOPES = ("campaign_data", "contact_data", "account_read", "offline_access")
DEFAULT_ACCOUNT = "acct0"
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
PKCE_FAILED = {"error": "invalid_grant", "error_description": "PKCE verification failed."}
INVALID_CLIENT = {"error": "invalid_client", "error_description": "Client authentication failed."}
# RFC 6749 §5.1: token responses must not be cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def utc_now() -> datetime:
    return datetime.now(UTC)


def s256(verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL(SHA256(code_verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class Grant(NamedTuple):
    """What a valid token carries: whose data it opens and with which scopes."""

    account: str
    scopes: frozenset[str]


class _Code(NamedTuple):
    expires: datetime
    redirect_uri: str | None
    grant: Grant
    challenge: str | None  # an S256 code_challenge, or None without PKCE


class _Refresh(NamedTuple):
    grant: Grant
    expires: datetime


def _oauth_error(error: str, description: str, status: int = 400) -> JSON:
    return JSON({"error": error, "error_description": description}, status, headers=NO_STORE)


def refusal(grant: Grant | None, needed_scope: str) -> JSON | None:
    """What CC answers a request that may not pass (401 object for a bad token, 403 array for
    a missing scope), or None when it may. A Starlette response is an ASGI app, so a
    middleware can `await refusal(...)(scope, receive, send)`."""
    if grant is None:
        return unauthorized()
    return None if needed_scope in grant.scopes else forbidden(needed_scope)


class TokenAuthority:
    """Issues and checks the tokens of one application's accounts; `expire_all` and
    `revoke_refresh_tokens` let tests make a token die mid-run, as a 24-hour token does in a
    long backfill or a grant does when an account's owner removes the app."""

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
        accounts: tuple[str, ...] = (DEFAULT_ACCOUNT,),
    ) -> None:
        self.client_id = client_id
        self.expires_in_text = expires_in_text  # `"86400"`, as a v2-era token response had it
        self.client_secret = client_secret
        self.lifetime_seconds = lifetime_seconds
        self.rotating = rotating
        self.clock = clock
        self.scopes = scopes
        self.accounts = accounts
        self.token_requests_per_second = token_requests_per_second
        self._key = secrets.token_bytes(32)
        # per account: its access tokens minted before its current generation are dead
        self._generations = dict.fromkeys(accounts, 0)
        self._refresh_tokens: dict[str, _Refresh] = {}
        self._codes: dict[str, _Code] = {}
        self._token_calls: deque[float] = deque()
        self._lock = Lock()
        self._signed_claims = lru_cache(maxsize=256)(self._decode)

    def _grant(self, account: str | None, scopes: tuple[str, ...] | None = None) -> Grant:
        name = account or self.accounts[0]
        if name not in self._generations:
            raise ValueError(
                f"no sandbox account {name!r} (this server has {', '.join(self.accounts)})"
            )
        return Grant(name, frozenset(self.scopes if scopes is None else scopes))

    # -- issuing -----------------------------------------------------------------------------

    def issue(self, account: str | None = None) -> dict[str, object]:
        """A new token set for `account` (default: the first), with every scope."""
        return self._issue(self._grant(account))

    def _issue(self, grant: Grant) -> dict[str, object]:
        """A token set, as the token endpoint answers it. Rotating: every earlier refresh
        token of the account dies. Long-lived: its existing refresh token is returned again."""
        now = self.clock()
        scopes = [s for s in self.scopes if s in grant.scopes] + sorted(
            grant.scopes.difference(self.scopes)
        )
        with self._lock:
            response: dict[str, object] = {
                "access_token": self._access_token(now, grant, scopes),
                "token_type": "Bearer",
                "expires_in": (
                    str(self.lifetime_seconds) if self.expires_in_text else self.lifetime_seconds
                ),
                "scope": " ".join(scopes),
            }
            if "offline_access" in grant.scopes:
                response["refresh_token"] = self._refresh_token(now, grant)
        return response

    def issue_initial(self) -> dict[str, object]:
        """The set a user gets on first authorizing the app, plus a fresh authorization code so
        the authorization-code grant can be exercised too."""
        return {**self.issue(), "authorization_code": self.issue_authorization_code()}

    def issue_authorization_code(
        self,
        redirect_uri: str | None = None,
        *,
        account: str | None = None,
        scopes: tuple[str, ...] | None = None,
        code_challenge: str | None = None,
    ) -> str:
        """A code usable once within 5 minutes for `account`'s tokens; when `redirect_uri` is
        given the token request must repeat it exactly (RFC 6749 §4.1.3), and when
        `code_challenge` (S256) is given it must bring the verifier (RFC 7636 §4.6)."""
        grant = self._grant(account, scopes)
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Code(
                self.clock() + CODE_LIFETIME, redirect_uri, grant, code_challenge
            )
        return code

    def _access_token(self, now: datetime, grant: Grant, scopes: list[str]) -> str:
        issued = int(now.timestamp())
        claims = {
            "iss": "cc-sandbox",
            "sub": self.client_id,
            "account": grant.account,
            "iat": issued,
            "exp": issued + self.lifetime_seconds,
            "scp": scopes,
            "gen": self._generations[grant.account],
            "jti": secrets.token_hex(8),
        }
        return jwt.encode(claims, self._key, algorithm="HS256")

    def _refresh_token(self, now: datetime, grant: Grant) -> str:
        expires = now + REFRESH_LIFETIME
        mine = [t for t, r in self._refresh_tokens.items() if r.grant.account == grant.account]
        if not self.rotating:
            for token in mine:
                entry = self._refresh_tokens[token]
                if entry.expires > now and entry.grant == grant:
                    # a used long-lived token stays active
                    self._refresh_tokens[token] = entry._replace(expires=expires)
                    return token
        token = secrets.token_urlsafe(32)
        if self.rotating:
            for old in mine:
                del self._refresh_tokens[old]
        self._refresh_tokens[token] = _Refresh(grant, expires)
        return token

    # -- checking ----------------------------------------------------------------------------

    def grant_of(self, authorization_header: str | None) -> Grant | None:
        """The account and scopes of a valid bearer token; None for a missing, malformed,
        expired or revoked one (CC's 401 body never says which)."""
        scheme, _, token = (authorization_header or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        claims = self._signed_claims(token.strip())
        if claims is None:
            return None
        account, generation, expires, scopes = claims
        if self._generations.get(account) != generation or expires <= self.clock().timestamp():
            return None
        return Grant(account, scopes)

    def _decode(self, token: str) -> tuple[str, object, int, frozenset[str]] | None:
        """(account, generation, exp, scopes) of a token this authority signed, else None.

        A signature check costs more than serving a page, and a token's claims never change,
        so they are verified once per token; expiry and revocation are checked on every call.
        """
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "require": ["exp", "scp", "account"],
                },
            )
        except jwt.PyJWTError:
            return None
        return (
            str(claims["account"]),
            claims.get("gen"),
            int(claims["exp"]),
            frozenset(claims["scp"]),
        )

    def expire_all(self) -> None:
        """Every access token issued so far, of every account, is expired from now on."""
        with self._lock:
            for account in self._generations:
                self._generations[account] += 1

    def revoke_refresh_tokens(self, account: str | None = None) -> None:
        """The grant of `account` (None: of every account) is revoked, as when the account's
        owner removes the app: its next refresh answers invalid_grant and its access tokens
        401 from now on. Other accounts keep theirs."""
        targets = set(self.accounts) if account is None else {self._grant(account).account}
        with self._lock:
            for name in targets:
                self._generations[name] += 1
            for token, entry in list(self._refresh_tokens.items()):
                if entry.grant.account in targets:
                    del self._refresh_tokens[token]
            for code, entry in list(self._codes.items()):
                if entry.grant.account in targets:
                    del self._codes[code]

    # -- the token endpoint ------------------------------------------------------------------

    def _refresh_grant(self, token: str) -> Grant | None:
        with self._lock:
            entry = self._refresh_tokens.get(token)
        return entry.grant if entry is not None and entry.expires > self.clock() else None

    def _spend_code(self, code: str, redirect_uri: str, verifier: str | None) -> Grant | JSON:
        """The code's grant when the code is good, else the refusal; spent either way, as a
        code is single-use."""
        with self._lock:
            entry = self._codes.pop(code, None)
        if entry is None or entry.expires <= self.clock():
            return JSON(INVALID_CODE, 400, headers=NO_STORE)
        if entry.redirect_uri is not None and entry.redirect_uri != redirect_uri:
            return _oauth_error(
                "invalid_grant",
                "The 'redirect_uri' does not match the redirection URI used in the "
                "authorization request.",
            )
        if entry.challenge is None and verifier is None:
            return entry.grant
        if (
            entry.challenge is None
            or verifier is None
            or not secrets.compare_digest(s256(verifier), entry.challenge)
        ):
            return JSON(PKCE_FAILED, 400, headers=NO_STORE)
        return entry.grant

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
        grant_type = params.get("grant_type")
        if grant_type == "refresh_token":
            grant = self._refresh_grant(params.get("refresh_token", ""))
            if grant is None:
                return JSON(INVALID_GRANT, 400, headers=NO_STORE)
        elif grant_type == "authorization_code":
            if not params.get("redirect_uri"):
                return _oauth_error("invalid_request", "The 'redirect_uri' parameter is required.")
            spent = self._spend_code(
                params.get("code", ""), params["redirect_uri"], params.get("code_verifier")
            )
            if isinstance(spent, JSON):
                return spent
            grant = spent
        elif grant_type is None:
            return _oauth_error("invalid_request", "The token request must specify 'grant_type'.")
        else:
            return _oauth_error(
                "unsupported_grant_type",
                "'grant_type' must be 'authorization_code' or 'refresh_token'.",
            )
        return JSON(self._issue(grant), headers=NO_STORE)


def token_routes(authority: TokenAuthority) -> list[Route]:
    """POST /oauth2/default/v1/token, served next to (never behind) the API limits."""
    return [Route(TOKEN_PATH, authority.token_endpoint, methods=["POST"])]
