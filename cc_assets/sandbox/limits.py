"""Constant Contact's request limits on the API paths: 4 requests/second, 10,000 a UTC day.

A pure ASGI middleware, because it sits in front of a server that must answer hundreds of
pages a second: per request it does a deque check under a lock and nothing else; everything
statistical (`max_in_any_second`) is computed only when `snapshot()` is asked for.

Only `/v3/` and `/v2/` are limited: the token endpoint has its own limit (`oauth.py`) and the
`/__sandbox__` control API is not part of the imitated service.

Rules, each the stricter reading where the reference is silent (the sandbox must never be
kinder than the real API):
- Per second: sliding 1.0 s window across all connections; a request is refused when N or more
  requests were ACCEPTED in the preceding second. v3 answers 429
  `{"error_key":"throttled",...}`, v2 answers 403 with Mashery's `over.qps` key.
- Per day: counted per UTC day of `clock`, reset at 00:00 UTC. v3 answers 429
  `{"error_key":"quota_exceeded",...}`, v2 403 `over.ratelimit`.
- A request refused as throttled STILL spends one unit of the daily quota. CC's documents do not say
  whether refused calls are counted; counting them is the harsher choice, so a client that
  hammers through 429s learns to pace itself here rather than in production.
- No Retry-After or X-RateLimit-* headers: none are documented.
- 0 disables a limit.
- Both limits belong to the application key, not to an account: one middleware counts the
  requests of every account the server serves together. The log records each request's
  account (`ACCOUNT_KEY`, put into the scope by the token reader in front of the limits).
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, date, datetime
from threading import Lock
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cc_assets.sandbox.responses import JSON, QUOTA_EXCEEDED, THROTTLED

API_PREFIXES = ("/v3/", "/v2/")
ACCOUNT_KEY = "cc_sandbox.account"
"""The ASGI scope key naming the account a request's token belongs to (None: no valid token)."""
LOG_SIZE = 100_000
V2_OVER_QPS = [
    {
        "error_key": "mashery.not.authorized.over.qps",
        "error_message": "Account Over Queries Per Second Limit",
    }
]
V2_OVER_RATE = [
    {
        "error_key": "mashery.not.authorized.over.ratelimit",
        "error_message": "Account Over Rate Limit",
    }
]


def utc_now() -> datetime:
    return datetime.now(UTC)


def is_api_request(scope: Scope) -> bool:
    """True for the paths the real API meters (v3 and legacy v2)."""
    return scope["type"] == "http" and scope["path"].startswith(API_PREFIXES)


def _refusal(kind: str, path: str) -> JSON:
    if path.startswith("/v2/"):
        return JSON(V2_OVER_RATE if kind == "quota_exceeded" else V2_OVER_QPS, 403)
    return JSON(QUOTA_EXCEEDED if kind == "quota_exceeded" else THROTTLED, 429)


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most events within any `window` seconds of each other, by the same rule the limiter
    admits with (events exactly `window` apart are in different windows). `times` sorted."""
    best = start = 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


class RequestLimits:
    """The limiter middleware; `requests_per_second` and `daily_quota` may be set at run time."""

    def __init__(
        self,
        app: ASGIApp,
        requests_per_second: float = 4,
        daily_quota: int = 10_000,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.app = app
        self.requests_per_second = requests_per_second
        self.daily_quota = daily_quota
        self.clock = clock
        self._lock = Lock()
        self._window: deque[float] = deque()  # monotonic times of accepted requests, last 1 s
        self._day: date = clock().astimezone(UTC).date()
        self._used_today = 0
        self.reset()

    def configure(
        self, requests_per_second: float | None = None, daily_quota: int | None = None
    ) -> dict[str, float]:
        """Change either limit (None leaves it); returns both."""
        with self._lock:
            if requests_per_second is not None:
                self.requests_per_second = requests_per_second
            if daily_quota is not None:
                self.daily_quota = daily_quota
        return {"requests_per_second": self.requests_per_second, "daily_quota": self.daily_quota}

    def reset(self) -> None:
        """Forget the request log and counters (not the limits' own state: that would be kind)."""
        with self._lock:
            self._log: deque[tuple[float, str, int, bool, list[str], str | None]] = deque(
                maxlen=LOG_SIZE
            )
            self._by_status: Counter[int] = Counter()
            self._refused: Counter[str] = Counter()
            self._total = 0

    def reset_quota(self) -> None:
        """As if 00:00 UTC had just passed."""
        with self._lock:
            self._used_today = 0

    def _admit(self, now: float) -> str | None:
        """None to accept, else the refusal kind. The one hot path: keep it small."""
        today = self.clock().astimezone(UTC).date()
        with self._lock:
            if today != self._day:
                self._day, self._used_today = today, 0
            window = self._window
            while window and now - window[0] >= 1.0:
                window.popleft()
            if self.daily_quota and self._used_today >= self.daily_quota:
                return "quota_exceeded"
            self._used_today += 1  # throttled calls spend quota too (see module docstring)
            if self.requests_per_second and len(window) >= self.requests_per_second:
                return "throttled"
            window.append(now)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_api_request(scope):
            await self.app(scope, receive, send)
            return
        arrived = time.monotonic()
        refusal = self._admit(arrived)
        status = 500  # what the server answers if the app fails before starting a response

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if refusal is None:
                await self.app(scope, receive, recording_send)
            else:
                await _refusal(refusal, scope["path"])(scope, receive, recording_send)
        finally:
            with self._lock:
                names = sorted({k for k, _ in parse_qsl(scope.get("query_string", b"").decode())})
                entry = (
                    arrived,
                    scope["path"],
                    status,
                    refusal is None,
                    names,
                    scope.get(ACCOUNT_KEY),
                )
                self._log.append(entry)
                self._by_status[status] += 1
                self._total += 1
                if refusal is not None:
                    self._refused[refusal] += 1

    def snapshot(self) -> dict[str, Any]:
        """Counters since the last `reset()`; `log` holds the last 100k requests as
        [monotonic seconds, path, status], `query_names` the names (never the values: one is
        the api_key) of each one's query parameters and `accounts` the account each was for
        (null without a valid token), all three in the same order; `max_in_any_second` counts
        accepted requests only, of every account together."""
        with self._lock:
            log = list(self._log)
            by_status = dict(self._by_status)
            refused = dict(self._refused)
            total, used = self._total, self._used_today
        accepted = sorted(t for t, _, _, ok, _, _ in log if ok)
        return {
            "total": total,
            "by_status": {str(code): n for code, n in sorted(by_status.items())},
            "max_in_any_second": max_in_window(accepted),
            "throttled": refused.get("throttled", 0),
            "quota_exceeded": refused.get("quota_exceeded", 0),
            "used_today": used,
            "log": [[t, path, code] for t, path, code, *_ in log],
            "query_names": [entry[4] for entry in log],
            "accounts": [entry[5] for entry in log],
        }
