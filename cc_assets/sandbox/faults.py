"""Production's bad days on demand, on the API paths only (`/v3/`, `/v2/`).

Each API request draws once: with `p_5xx` it gets a 500 or a 503 (CC's array bodies),
with `p_429` the throttled 429, with `p_drop` the real response's headers and half its body and
then a closed connection (the client sees an incomplete read), with `p_truncate` a 200 whose
body is cut in half under a matching Content-Length (a complete HTTP message of invalid JSON).
`latency_ms` delays every API request. With everything at 0 a request passes straight through,
so the injector costs nothing on the fast path.

Path faults are persistent rather than drawn: `{path-regex: status}` makes every API request
whose path matches answer that status, for good, with CC's error body for it (a 404 for an
endpoint an account lacks, a 500 for a report that is broken on the server's side), until they
are cleared. They let a test break one activity's report and leave the rest of the account
healthy. Path faults may be scoped to one account of the application (the account the request's
token belongs to): one account's reports can fail for good while the others' are served.

Install it INSIDE the request limits: a faulted request then still counts against the rate and
the quota, as a call that fails on the real API still spends the key's allowance.
"""

from __future__ import annotations

import asyncio
import random
import re
from dataclasses import asdict, dataclass, replace
from functools import cached_property

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cc_assets.sandbox.limits import ACCOUNT_KEY, is_api_request
from cc_assets.sandbox.responses import (
    JSON,
    SERVER_ERROR,
    THROTTLED,
    UNAVAILABLE,
    error_array,
    not_found,
)


@dataclass(frozen=True)
class FaultSettings:
    p_5xx: float = 0.0
    p_429: float = 0.0
    p_drop: float = 0.0
    p_truncate: float = 0.0
    latency_ms: float = 0.0

    def __post_init__(self) -> None:
        chances = (self.p_5xx, self.p_429, self.p_drop, self.p_truncate)
        if any(not 0 <= p <= 1 for p in chances) or sum(chances) > 1:
            raise ValueError("fault probabilities must lie in [0, 1] and sum to at most 1")
        if self.latency_ms < 0:
            raise ValueError("latency_ms must not be negative")

    @cached_property  # read on every request: computed once per settings object
    def active(self) -> bool:
        return any(asdict(self).values())


class FaultInjector:
    """The fault middleware; `configure` changes its settings while the server runs."""

    def __init__(
        self,
        app: ASGIApp,
        p_5xx: float = 0.0,
        p_429: float = 0.0,
        p_drop: float = 0.0,
        p_truncate: float = 0.0,
        latency_ms: float = 0.0,
        seed: int | None = None,
    ) -> None:
        self.app = app
        self._settings = FaultSettings(p_5xx, p_429, p_drop, p_truncate, latency_ms)
        self._random = random.Random(seed)
        # account (None: every account) -> [(path regex, status)]
        self._paths: dict[str | None, list[tuple[re.Pattern[str], int]]] = {}

    def configure(self, **settings: float) -> dict[str, float]:
        """Change some settings (unknown names or bad values raise ValueError/TypeError)."""
        self._settings = replace(self._settings, **{k: float(v) for k, v in settings.items()})
        return self.settings()

    def settings(self) -> dict[str, float]:
        return asdict(self._settings)

    def configure_paths(self, faults: dict[str, int], account: str | None = None) -> dict[str, int]:
        """Replace the persistent path faults of `account`'s requests (None: of every
        account's; `{}` clears them). A bad regex or a status that is not an HTTP error raises
        ValueError before anything changes."""
        compiled = []
        for pattern, status in faults.items():
            code = int(status)
            if not 400 <= code <= 599:
                raise ValueError(f"{pattern}: status {status} is not an HTTP error (400-599)")
            try:
                compiled.append((re.compile(pattern), code))
            except re.error as exc:
                raise ValueError(f"{pattern}: {exc}") from None
        paths = {**self._paths, account: compiled}
        self._paths = {scope: faults for scope, faults in paths.items() if faults}
        return self.path_faults(account)

    def path_faults(self, account: str | None = None) -> dict[str, int]:
        return {pattern.pattern: status for pattern, status in self._paths.get(account, [])}

    def _path_fault(self, scope: Scope) -> int | None:
        """The status a persistent fault gives this request: every account's faults first."""
        for owner in dict.fromkeys((None, scope.get(ACCOUNT_KEY))):
            for pattern, status in self._paths.get(owner, ()):
                if pattern.search(scope["path"]):
                    return status
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        s = self._settings
        if self._paths and is_api_request(scope):
            status = self._path_fault(scope)
            if status is not None:
                await _error(status)(scope, receive, send)
                return
        if not s.active or not is_api_request(scope):
            await self.app(scope, receive, send)
            return
        if s.latency_ms:
            await asyncio.sleep(s.latency_ms / 1000)
        draw = self._random.random()
        if draw < s.p_5xx:
            error = (
                JSON(SERVER_ERROR, 500) if self._random.random() < 0.5 else JSON(UNAVAILABLE, 503)
            )
            await error(scope, receive, send)
        elif draw < s.p_5xx + s.p_429:
            await JSON(THROTTLED, 429)(scope, receive, send)
        elif draw < s.p_5xx + s.p_429 + s.p_drop:
            await self._damaged(scope, receive, send, drop=True)
        elif draw < s.p_5xx + s.p_429 + s.p_drop + s.p_truncate:
            await self._damaged(scope, receive, send, drop=False)
        else:
            await self.app(scope, receive, send)

    async def _damaged(self, scope: Scope, receive: Receive, send: Send, *, drop: bool) -> None:
        """Serve the real response with half its body. Dropped: announce the full length, send
        half with `more_body`, and return unfinished, which makes the ASGI server close the
        connection (uvicorn logs one line, no traceback). Truncated: a complete message whose
        Content-Length matches the cut body."""
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
        cut = body[: len(body) // 2]
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body) if drop else len(cut)).encode()))
        await send({"type": "http.response.start", "status": start["status"], "headers": headers})
        await send({"type": "http.response.body", "body": cut, "more_body": drop})


def _error(status: int) -> JSON:
    """CC's body for a persistent fault's status: the array form every non-401/429 error has."""
    if status == 404:
        return not_found()
    if status == 500:
        return JSON(SERVER_ERROR, 500)
    if status == 503:
        return JSON(UNAVAILABLE, 503)
    if status == 429:
        return JSON(THROTTLED, 429)
    return error_array(status, "sandbox.fault", f"Injected fault ({status}).")
