"""What stands between a request and its data: rate limits, the daily quota, faults, auth.

Each is a pure ASGI middleware over the API paths only (`/v3`, `/v2`); the token endpoint and
the `/__sandbox__` control API are never limited or faulted. Order, outermost first:
limits -> faults -> auth, so a request that draws a fault or a 401 still counts against the
rate and the quota, as a real API key's calls do.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from threading import Lock
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cc_assets.sandbox.oauth import TokenAuthority, UnauthorizedError
from cc_assets.sandbox.responses import QUOTA_EXCEEDED, SERVER_ERROR, THROTTLED, UNAVAILABLE

API_PREFIXES = ("/v3/", "/v2/")
CONTACT_PATHS = ("/v3/contacts", "/v3/reports/contact_reports")
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


def is_api(scope: Scope) -> bool:
    return scope["type"] == "http" and scope["path"].startswith(API_PREFIXES)


async def send_json(send: Send, status: int, body: Any) -> None:
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class RequestLimits:
    """Requests per second (sliding 1 s window over accepted calls) and calls per UTC day.

    Refused calls do not spend the quota: CC documents no such charge (reference §6), and
    counting them would only make the sandbox kinder to nobody.
    """

    def __init__(
        self, app: ASGIApp, requests_per_second: float = 4, daily_quota: int = 10_000
    ) -> None:
        self.app = app
        self.requests_per_second = requests_per_second
        self.daily_quota = daily_quota
        self._accepted: deque[float] = deque()
        self._day = datetime.now(UTC).date()
        self._used_today = 0
        self._lock = Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.log: deque[tuple[float, str, int]] = deque(maxlen=100_000)
            self.accepted_log: deque[float] = deque(maxlen=100_000)
            self.by_status: Counter[int] = Counter()
            self.refused: Counter[str] = Counter()

    def reset_quota(self) -> None:
        with self._lock:
            self._used_today = 0

    def configure(
        self, requests_per_second: float | None = None, daily_quota: int | None = None
    ) -> None:
        if requests_per_second is not None:
            self.requests_per_second = requests_per_second
        if daily_quota is not None:
            self.daily_quota = daily_quota

    def _admit(self, now: float) -> str | None:
        today = datetime.now(UTC).date()
        with self._lock:
            if today != self._day:  # the quota resets at 00:00 UTC
                self._day, self._used_today = today, 0
            while self._accepted and now - self._accepted[0] >= 1.0:
                self._accepted.popleft()
            if self.daily_quota and self._used_today >= self.daily_quota:
                return "quota_exceeded"
            if self.requests_per_second and len(self._accepted) >= self.requests_per_second:
                return "throttled"
            self._accepted.append(now)
            self._used_today += 1
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_api(scope):
            await self.app(scope, receive, send)
            return
        arrived = time.monotonic()
        refusal = self._admit(arrived)
        status_box = [0]

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box[0] = message["status"]
            await send(message)

        try:
            if refusal is None:
                await self.app(scope, receive, record)
            else:
                v2 = scope["path"].startswith("/v2/")
                if v2:
                    body = V2_OVER_RATE if refusal == "quota_exceeded" else V2_OVER_QPS
                    await send_json(record, 403, body)
                else:
                    await send_json(
                        record, 429, QUOTA_EXCEEDED if refusal == "quota_exceeded" else THROTTLED
                    )
        finally:
            with self._lock:
                self.log.append((arrived, scope["path"], status_box[0]))
                if refusal is None:
                    self.accepted_log.append(arrived)
                self.by_status[status_box[0]] += 1
                if refusal:
                    self.refused[refusal] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            log = list(self.log)
            accepted = sorted(self.accepted_log)
            by_status = dict(self.by_status)
            refused = dict(self.refused)
            used = self._used_today
        return {
            "total": len(log),
            "by_status": {str(k): v for k, v in by_status.items()},
            "throttled": refused.get("throttled", 0),
            "quota_exceeded": refused.get("quota_exceeded", 0),
            "used_today": used,
            "max_in_any_second": _max_in_window(accepted),
            "log": [[t, path, status] for t, path, status in log],
        }


def _max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most requests that arrived within any `window` seconds (two pointers)."""
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


@dataclass
class FaultSettings:
    p_5xx: float = 0.0
    p_429: float = 0.0
    p_drop: float = 0.0
    p_truncate: float = 0.0
    latency_ms: float = 0.0


class FaultInjector:
    """Production's bad days on demand: 5xx, 429, latency, dropped and truncated bodies."""

    def __init__(
        self, app: ASGIApp, settings: FaultSettings | None = None, seed: int | None = None
    ) -> None:
        self.app = app
        self.settings = settings or FaultSettings()
        self._random = random.Random(seed)

    def configure(self, **values: float) -> FaultSettings:
        unknown = set(values) - set(asdict(self.settings))
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        self.settings = FaultSettings(**{**asdict(self.settings), **values})
        return self.settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_api(scope):
            await self.app(scope, receive, send)
            return
        s = self.settings
        if s.latency_ms:
            await asyncio.sleep(s.latency_ms / 1000)
        draw = self._random.random()
        if draw < s.p_5xx:
            if self._random.random() < 0.5:
                await send_json(send, 500, SERVER_ERROR)
            else:
                await send_json(send, 503, UNAVAILABLE)
            return
        draw -= s.p_5xx
        if draw < s.p_429:
            await send_json(send, 429, THROTTLED)
            return
        draw -= s.p_429
        if draw < s.p_drop + s.p_truncate:
            await self._damaged(scope, receive, send, drop=draw < s.p_drop)
            return
        await self.app(scope, receive, send)

    async def _damaged(self, scope: Scope, receive: Receive, send: Send, *, drop: bool) -> None:
        """Run the request, then cut the body: mid-stream (a dropped connection) or short but
        complete (a truncated JSON document under a matching Content-Length)."""
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            else:
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        cut = body[: max(1, len(body) // 2)]
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        length = len(body) if drop else len(cut)
        headers.append((b"content-length", str(length).encode()))
        await send(
            {"type": "http.response.start", "status": start.get("status", 200), "headers": headers}
        )
        await send({"type": "http.response.body", "body": cut, "more_body": drop})
        if drop:
            raise ConnectionAbortedError("sandbox fault: connection dropped mid-body")


class BearerAuth:
    """A valid, unexpired bearer token with the scope the path needs (401 object / 403 array)."""

    def __init__(self, app: ASGIApp, authority: TokenAuthority, api_key: str) -> None:
        self.app = app
        self.authority = authority
        self.api_key = api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_api(scope):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        header = headers.get(b"authorization", b"").decode("latin-1") or None
        try:
            scopes = self.authority.verify(header)
        except UnauthorizedError:
            await send_json(
                send, 401, {"error_key": "unauthorized", "error_message": "Unauthorized"}
            )
            return
        path = scope["path"]
        if path.startswith("/v2/"):
            query = scope.get("query_string", b"").decode()
            if f"api_key={self.api_key}" not in query.split("&"):
                await send_json(
                    send,
                    401,
                    [
                        {
                            "error_key": "http.status.unauthorized",
                            "error_message": "Not authorized: api_key is missing or invalid.",
                        }
                    ],
                )
                return
        needed = "contact_data" if path.startswith(CONTACT_PATHS) else "campaign_data"
        if needed not in scopes:
            await send_json(
                send,
                403,
                [
                    {
                        "error_key": "forbidden",
                        "error_message": f"Forbidden request. You lack the scope {needed}.",
                    }
                ],
            )
            return
        await self.app(scope, receive, send)
