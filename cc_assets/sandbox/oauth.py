"""The OAuth2 token endpoint and bearer-token checks, as Constant Contact runs them (§5).

Access tokens are JWTs with an `exp` claim (CC tells clients to read it, reference §10-K) and a
24-hour default lifetime; `expires_in` is sent as a lifetime in seconds. Refresh tokens are
rotating (single use; a new set voids all earlier ones) or long-lived. Token times follow the
wall clock, not the account's data clock: a client checks expiry against its own clock.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections import deque
from threading import Lock
from urllib.parse import parse_qsl

import jwt
from starlette.requests import Request
from starlette.routing import Route

from cc_assets.sandbox.responses import JSON

DEFAULT_SCOPES = ("campaign_data", "contact_data", "account_read", "offline_access")
INVALID_GRANT = {
    "error": "invalid_grant",
    "error_description": "unknown, invalid, or expired refresh token",
}
CODE_LIFETIME_SECONDS = 300


class UnauthorizedError(Exception):
    """The bearer token is missing, malformed, expired or revoked (answered with a 401)."""


class TokenAuthority:
    """Issues and checks one sandbox account's tokens."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        lifetime_seconds: int = 86_400,
        rotating: bool = True,
        scopes: tuple[str, ...] = DEFAULT_SCOPES,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.lifetime_seconds = lifetime_seconds
        self.rotating = rotating
        self.scopes = scopes
        self._key = secrets.token_bytes(32)
        self._generation = 0  # tokens of an older generation count as expired
        self._refresh_tokens: set[str] = set()
        self._codes: dict[str, float] = {}
        self._token_calls: deque[float] = deque()
        self._lock = Lock()

    def _access_token(self) -> str:
        now = int(time.time())
        claims = {
            "iss": "cc-sandbox",
            "sub": self.client_id,
            "iat": now,
            "exp": now + self.lifetime_seconds,
            "scp": list(self.scopes),
            "gen": self._generation,
            "jti": secrets.token_hex(8),
        }
        return jwt.encode(claims, self._key, algorithm="HS256")

    def issue(self) -> dict[str, object]:
        """A new token set; with rotating refresh tokens every earlier refresh token dies."""
        with self._lock:
            if self.rotating or not self._refresh_tokens:
                refresh = secrets.token_urlsafe(32)
                if self.rotating:
                    self._refresh_tokens.clear()
                self._refresh_tokens.add(refresh)
            else:
                refresh = next(iter(self._refresh_tokens))
            access = self._access_token()
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.lifetime_seconds,
            "scope": " ".join(self.scopes),
            "refresh_token": refresh,
        }

    def issue_authorization_code(self) -> str:
        code = secrets.token_urlsafe(16)
        with self._lock:
            self._codes[code] = time.time() + CODE_LIFETIME_SECONDS
        return code

    def verify(self, authorization: str | None) -> frozenset[str]:
        if not authorization or not authorization.startswith("Bearer "):
            raise UnauthorizedError
        try:
            claims = jwt.decode(authorization[7:], self._key, algorithms=["HS256"])
        except jwt.PyJWTError:
            raise UnauthorizedError from None
        if claims.get("gen") != self._generation:
            raise UnauthorizedError
        return frozenset(claims.get("scp", ()))

    def expire_all(self) -> None:
        with self._lock:
            self._generation += 1

    def revoke_refresh_tokens(self) -> None:
        with self._lock:
            self._refresh_tokens.clear()

    def _spend_refresh_token(self, token: str) -> bool:
        with self._lock:
            return token in self._refresh_tokens

    def _spend_code(self, code: str) -> bool:
        with self._lock:
            expires = self._codes.pop(code, None)
        return expires is not None and expires >= time.time()

    def _client_ok(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return secrets.compare_digest(client_id, self.client_id) and secrets.compare_digest(
            secret, self.client_secret
        )

    def _throttled(self) -> bool:
        """The token endpoint takes 1 request per second (reference §5.7)."""
        now = time.monotonic()
        with self._lock:
            while self._token_calls and now - self._token_calls[0] >= 1.0:
                self._token_calls.popleft()
            if self._token_calls:
                return True
            self._token_calls.append(now)
        return False

    async def token_endpoint(self, request: Request) -> JSON:
        if self._throttled():
            return JSON({"error_key": "throttled", "error_message": "Too Many Requests"}, 429)
        if not self._client_ok(request.headers.get("authorization")):
            return JSON(
                {"error": "invalid_client", "error_description": "Client authentication failed."},
                401,
            )
        params = dict(request.query_params)
        # CC's docs send the grant in the query string; a form body works too.
        params.update(parse_qsl((await request.body()).decode()))
        grant = params.get("grant_type")
        if grant == "refresh_token":
            if not self._spend_refresh_token(str(params.get("refresh_token", ""))):
                return JSON(INVALID_GRANT, 400)
        elif grant == "authorization_code":
            if not self._spend_code(str(params.get("code", ""))):
                return JSON(
                    {
                        "error": "invalid_grant",
                        "error_description": "The authorization code is invalid or expired.",
                    },
                    400,
                )
        else:
            return JSON(
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant_type must be authorization_code or refresh_token.",
                },
                400,
            )
        return JSON(self.issue())


def token_routes(authority: TokenAuthority) -> list[Route]:
    return [Route("/oauth2/default/v1/token", authority.token_endpoint, methods=["POST"])]
