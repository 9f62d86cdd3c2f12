"""Access tokens that stay valid: refresh before expiry or after a 401, never lose a rotation.

A rotating refresh token can be spent once. So the new pair is written to the token store
(`token_store`: a private file, or Redis / PostgreSQL shared by every host) before the new
access token is used, and the refresh happens under the store's rotation lock after re-reading
it: a second process that finds the token already rotated adopts the stored pair instead of
spending a dead refresh token.
"""

from __future__ import annotations

import time
from functools import lru_cache

import httpx
import jwt

from cc_assets.constant_contact.errors import (
    AuthenticationError,
    ConstantContactError,
    UnexpectedResponseError,
    UnreachableError,
)
from cc_assets.constant_contact.settings import ClientSettings
from cc_assets.constant_contact.token_store import TokenPair, token_store

EARLY_REFRESH_SECONDS = 120


@lru_cache(maxsize=8)
def expires_at(access_token: str | None) -> float | None:
    """The JWT `exp` claim: rely on it, not on `expires_in` (an epoch or a TTL, by source)."""
    if not access_token:
        return None
    try:
        claims = jwt.decode(access_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    exp = claims.get("exp")
    return float(exp) if isinstance(exp, int | float) else None


class TokenManager:
    """Holds the current bearer token and refreshes it when it can."""

    def __init__(self, settings: ClientSettings, http: httpx.Client) -> None:
        self.settings = settings
        self._http = http
        self.store = token_store(settings)
        self.pair = TokenPair(settings.access_token, settings.refresh_token)
        if settings.can_refresh:
            stored = self._read_store()
            if stored is not None and stored.refresh_token:
                self.pair = stored  # the store holds the latest rotation, the env the first

    def _read_store(self) -> TokenPair | None:
        return self.store.read()

    def bearer(self) -> str:
        """The header value to send, refreshing first if the token expires soon."""
        exp = expires_at(self.pair.access_token)
        due = exp is not None and exp - time.time() < EARLY_REFRESH_SECONDS
        if self.settings.can_refresh and (self.pair.access_token is None or due):
            self.refresh(stale=self.pair.access_token)
        if not self.pair.access_token:
            raise AuthenticationError(
                "token",
                None,
                "no access token and no way to refresh one: set CONSTANT_CONTACT_ACCESS_TOKEN, or"
                " CONSTANT_CONTACT_CLIENT_ID, CONSTANT_CONTACT_CLIENT_SECRET and"
                " CONSTANT_CONTACT_REFRESH_TOKEN",
            )
        return f"Bearer {self.pair.access_token}"

    def _first_refresh_token(self, stored: TokenPair | None) -> str:
        """The refresh token to spend: the store's latest rotation, else the configured one."""
        current = (stored.refresh_token if stored else None) or self.pair.refresh_token
        if current:
            return current
        name = self.settings.account
        raise AuthenticationError(
            "token",
            None,
            f"account {name!r} has no token pair in the token store: authorize it with "
            f"`cc-assets accounts add {name}`",
        )

    def refresh(self, stale: str | None) -> None:
        """Swap `stale` for a fresh token, unless another process already did."""
        if not self.settings.can_refresh:
            raise AuthenticationError(
                "token",
                401,
                "the access token was refused and cannot be refreshed: check"
                " CONSTANT_CONTACT_ACCESS_TOKEN, or set CONSTANT_CONTACT_CLIENT_ID,"
                " CONSTANT_CONTACT_CLIENT_SECRET and CONSTANT_CONTACT_REFRESH_TOKEN",
            )
        with self.store.rotation_lock():
            stored = self._read_store()
            if stored and stored.access_token and stored.access_token != stale:
                exp = expires_at(stored.access_token)
                if exp is None or exp - time.time() > EARLY_REFRESH_SECONDS:
                    self.pair = stored
                    return
            current = self._first_refresh_token(stored)
            body = self.token_request({"grant_type": "refresh_token", "refresh_token": current})
            fresh = TokenPair(body["access_token"], body.get("refresh_token") or current)
            self.store.write(fresh)
            self.pair = fresh

    def token_request(self, grant: dict[str, str]) -> dict[str, str]:
        """POST a grant (a refresh, or `cc-assets accounts add`'s authorization code) to the
        token endpoint, the client authenticated by HTTP Basic. Connect failures are retried
        for ~15 s, 429/5xx a few times; a refusal names the variable or the command to fix."""
        url = httpx.URL(self.settings.token_url)
        endpoint, host = url.path, url.host
        started = time.monotonic()
        status: int | None = None
        for attempt in range(TOKEN_ATTEMPTS):
            try:
                response = self._http.post(
                    url,
                    data=grant,  # in the form body, not the query string: URLs end up in logs
                    auth=(self.settings.client_id or "", self.settings.client_secret or ""),
                )
            except httpx.TransportError as exc:
                late = time.monotonic() - started + self.settings.connect_timeout + 1 > 15
                if attempt == TOKEN_ATTEMPTS - 1 or late:
                    raise UnreachableError(
                        endpoint,
                        None,
                        f"cannot reach the token endpoint {host} ({type(exc).__name__});"
                        " check CONSTANT_CONTACT_TOKEN_URL and the network",
                    ) from None
                time.sleep(1)
                continue
            status = response.status_code
            if status == 429 or status >= 500:
                time.sleep(1.1 + attempt)  # the token endpoint takes one call per second
                continue
            if status != 200:
                refusal = _refusal(_oauth_error(response), self.settings, grant["grant_type"])
                raise AuthenticationError(endpoint, status, refusal)
            try:
                body = response.json()
            except ValueError:
                body = None
            token = body.get("access_token") if isinstance(body, dict) else None
            rotated = body.get("refresh_token") if isinstance(body, dict) else None
            if not isinstance(token, str) or not token or not isinstance(rotated, str | None):
                raise UnexpectedResponseError(
                    endpoint, status, "access_token", "the token endpoint sent no usable token"
                )
            return body
        raise ConstantContactError(endpoint, status, f"the token endpoint {host} kept failing")


TOKEN_ATTEMPTS = 5


def _refusal(error: str, settings: ClientSettings, grant_type: str) -> str:
    """What the token endpoint's OAuth error means for the user, and for which account."""
    if error == "invalid_client":
        return (
            "refresh refused (invalid_client): check CONSTANT_CONTACT_CLIENT_ID and"
            " CONSTANT_CONTACT_CLIENT_SECRET"
        )
    if grant_type == "authorization_code":
        return (
            f"the authorization code was refused ({error}); run `cc-assets accounts add "
            f"{settings.account}` again"
        )
    if settings.account is None:
        return (
            f"refresh refused ({error}): CONSTANT_CONTACT_REFRESH_TOKEN is no longer valid;"
            f" {settings.reauthorize_hint}"
        )
    return (
        f"account {settings.account!r}: refresh refused ({error}): its grant was revoked or has"
        f" expired; {settings.reauthorize_hint}"
    )


def _oauth_error(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return "unreadable body"
    error = body.get("error") if isinstance(body, dict) else None
    # an OAuth error code is a short token; anything else may echo the request
    return error if isinstance(error, str) and error.isidentifier() and len(error) < 40 else "error"
