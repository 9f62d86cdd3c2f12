"""Access tokens that stay valid: refresh before expiry or after a 401, never lose a rotation.

A rotating refresh token can be spent once. So the new pair is written to the token store
(temp file, fsync, rename, mode 0600) before the new access token is used, and the refresh
happens under a file lock after re-reading the store: a second process that finds the token
already rotated adopts the stored pair instead of spending a dead refresh token.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import httpx
import jwt
from filelock import FileLock

from cc_assets.constant_contact.errors import AuthenticationError, ConstantContactError
from cc_assets.constant_contact.settings import ClientSettings, state_dir

EARLY_REFRESH_SECONDS = 120


@dataclass
class TokenPair:
    access_token: str | None
    refresh_token: str | None


@lru_cache(maxsize=8)
def expires_at(access_token: str | None) -> float | None:
    """The JWT `exp` claim (reference §10-K: rely on it, not on `expires_in`)."""
    if not access_token:
        return None
    try:
        claims = jwt.decode(access_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    exp = claims.get("exp")
    return float(exp) if isinstance(exp, int | float) else None


def write_private(path: Path, data: dict[str, object]) -> None:
    """Atomically replace `path` with `data`, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class TokenManager:
    """Holds the current bearer token and refreshes it when it can."""

    def __init__(self, settings: ClientSettings, http: httpx.Client) -> None:
        self.settings = settings
        self._http = http
        key = hashlib.sha256(f"{settings.token_url}|{settings.client_id}".encode()).hexdigest()[:16]
        self.store = settings.token_store_path or state_dir() / f"tokens-{key}.json"
        self._lock = FileLock(str(self.store) + ".lock")
        self.pair = TokenPair(settings.access_token, settings.refresh_token)
        if settings.can_refresh:
            stored = self._read_store()
            if stored is not None and stored.refresh_token:
                self.pair = stored  # the store holds the latest rotation, the env the first

    def _read_store(self) -> TokenPair | None:
        try:
            data = json.loads(self.store.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return TokenPair(data.get("access_token"), data.get("refresh_token"))

    def bearer(self) -> str:
        """The header value to send, refreshing first if the token expires soon."""
        exp = expires_at(self.pair.access_token)
        due = exp is not None and exp - time.time() < EARLY_REFRESH_SECONDS
        if self.settings.can_refresh and (self.pair.access_token is None or due):
            self.refresh(stale=self.pair.access_token)
        if not self.pair.access_token:
            raise AuthenticationError("token", None, "no access token and no way to refresh one")
        return f"Bearer {self.pair.access_token}"

    def refresh(self, stale: str | None) -> None:
        """Swap `stale` for a fresh token, unless another process already did."""
        if not self.settings.can_refresh:
            raise AuthenticationError(
                "token", 401, "the access token was refused and cannot be refreshed"
            )
        with self._lock:
            stored = self._read_store()
            if stored and stored.access_token and stored.access_token != stale:
                exp = expires_at(stored.access_token)
                if exp is None or exp - time.time() > EARLY_REFRESH_SECONDS:
                    self.pair = stored
                    return
            current = (
                stored.refresh_token if stored and stored.refresh_token else None
            ) or self.pair.refresh_token
            body = self._call_token_endpoint(current or "")
            fresh = TokenPair(body["access_token"], body.get("refresh_token") or current)
            write_private(
                self.store,
                {
                    "access_token": fresh.access_token,
                    "refresh_token": fresh.refresh_token,
                    "saved_at": time.time(),
                },
            )
            self.pair = fresh

    def _call_token_endpoint(self, refresh_token: str) -> dict[str, str]:
        endpoint = httpx.URL(self.settings.token_url).path
        for attempt in range(5):
            try:
                response = self._http.post(
                    self.settings.token_url,
                    # in the form body, not the query string: URLs end up in logs
                    data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                    auth=(self.settings.client_id or "", self.settings.client_secret or ""),
                )
            except httpx.TransportError as exc:
                if attempt == 4:
                    raise ConstantContactError(
                        endpoint, None, f"token endpoint unreachable: {type(exc).__name__}"
                    ) from None
                time.sleep(1 + attempt)
                continue
            if response.status_code == 429 or response.status_code >= 500:
                time.sleep(1.1 + attempt)  # the token endpoint takes one call per second
                continue
            if response.status_code != 200:
                error = _oauth_error(response)
                raise AuthenticationError(
                    endpoint,
                    response.status_code,
                    f"refresh refused ({error}); re-authorize the app",
                )
            return response.json()
        raise ConstantContactError(endpoint, response.status_code, "token endpoint kept failing")


def _oauth_error(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return "unreadable body"
    return str(body.get("error", "error")) if isinstance(body, dict) else "error"
