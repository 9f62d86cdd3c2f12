"""A hostile HTTP proxy in front of a real sandbox: forwards every request, breaks some.

It is a Starlette app served by uvicorn on 127.0.0.1 in a thread of the test process. Each test
sets `proxy.mode` to one of `BREAKERS` and `proxy.target` to the path it applies to (one report's
path, `/v3/emails`, ...); every other request is forwarded untouched, so the client sees a
real Constant Contact stand-in with exactly one thing wrong. `proxy.seen` records each request
(path, query, headers) for the assertions.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route


@dataclass
class Upstream:
    """A forwarded response, body decoded when it is JSON."""

    status: int
    headers: dict[str, str]
    content: bytes

    def json(self) -> Any:
        return orjson.loads(self.content)


@dataclass
class Seen:
    path: str
    query: str
    headers: dict[str, str]
    at: float


@dataclass
class ProxyState:
    upstream: str
    mode: str = "pass"
    target: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    issued: set[str] = field(default_factory=set)
    hits: int = 0


Forward = Callable[[], Awaitable[Upstream]]
Breaker = Callable[[Request, ProxyState, Forward], Awaitable[Response]]
BREAKERS: dict[str, Breaker] = {}


def breaker(name: str) -> Callable[[Breaker], Breaker]:
    def register(function: Breaker) -> Breaker:
        BREAKERS[name] = function
        return function

    return register


def _response(up: Upstream, body: Any = None, **headers: str) -> Response:
    content = up.content if body is None else orjson.dumps(body)
    kept = {k: v for k, v in up.headers.items() if k.lower() in {"content-type"}}
    return Response(content, status_code=up.status, headers={**kept, **headers})


def _json(body: Any, status: int = 200, **headers: str) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status,
        headers={"content-type": "application/json", **headers},
    )


def _next(body: dict[str, Any]) -> str | None:
    return ((body.get("_links") or {}).get("next") or {}).get("href")


def _set_next(body: dict[str, Any], href: Any) -> dict[str, Any]:
    body["_links"] = {"next": {"href": href}}
    return body


def _cursor(request: Request) -> str | None:
    """The page's cursor: the reports' `next` parameter."""
    return request.query_params.get("next")


def _own_link(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


# --- pagination ----------------------------------------------------------------------------
@breaker("repeat_cursor")
async def _repeat_cursor(request: Request, state: ProxyState, forward: Forward) -> Response:
    """A → A: the second page's `next` is the second page again."""
    up = await forward()
    body = up.json()
    if _cursor(request):
        _set_next(body, _own_link(request))
    return _response(up, body)


@breaker("cycle")
async def _cycle(request: Request, state: ProxyState, forward: Forward) -> Response:
    """A → B → A: the third page links back to the second."""
    up = await forward()
    body = up.json()
    if not _cursor(request):
        state.memory["first_next"] = _next(body)
    elif _own_link(request) != state.memory.get("first_next"):
        _set_next(body, state.memory["first_next"])
    return _response(up, body)


@breaker("back_to_first")
async def _back_to_first(request: Request, state: ProxyState, forward: Forward) -> Response:
    up = await forward()
    body = up.json()
    if _cursor(request):
        _set_next(body, f"{request.url.path}?limit=500")
    return _response(up, body)


@breaker("next_elsewhere")
async def _next_elsewhere(request: Request, state: ProxyState, forward: Forward) -> Response:
    """`next` rewritten to `params["href"]` (another activity's report, another endpoint, a
    foreign host), keeping the real cursor where the template asks for it."""
    up = await forward()
    body = up.json()
    href = _next(body)
    if href:
        cursor = httpx.URL(href).params.get("next", "")
        _set_next(body, state.params["href"].format(cursor=cursor))
    return _response(up, body)


@breaker("next_value")
async def _next_value(request: Request, state: ProxyState, forward: Forward) -> Response:
    """`_links` (or `_links.next.href`) replaced by `params["value"]`."""
    up = await forward()
    body = up.json()
    if state.params.get("whole_links"):
        body["_links"] = state.params["value"]
    else:
        _set_next(body, state.params["value"])
    return _response(up, body)


@breaker("endless")
async def _endless(request: Request, state: ProxyState, forward: Forward) -> Response:
    """A fresh cursor every page, forever, serving the first page's rows again."""
    if "first" not in state.memory:
        state.memory["first"] = (await forward()).json()
    state.hits += 1
    body = dict(state.memory["first"])
    return _json(_set_next(body, f"{request.url.path}?next=fake{state.hits}&limit=500"))


# --- timing ----------------------------------------------------------------------------------
@breaker("never_answers")
async def _never_answers(request: Request, state: ProxyState, forward: Forward) -> Response:
    """Accepts the request and never answers (for `params["times"]` requests, then forwards)."""
    state.hits += 1
    if state.hits <= state.params.get("times", 10**9):
        await asyncio.sleep(state.params.get("sleep", 60))
    return _response(await forward())


@breaker("trickle")
async def _trickle(request: Request, state: ProxyState, forward: Forward) -> Response:
    """Headers at once, then the body a byte at a time."""
    up = await forward()

    async def drip() -> Any:
        for byte in up.content:
            yield bytes([byte])
            await asyncio.sleep(0.1)

    return StreamingResponse(drip(), status_code=200, media_type="application/json")


@breaker("truncate")
async def _truncate(request: Request, state: ProxyState, forward: Forward) -> Response:
    """The body cut in half with an honest Content-Length (`params["times"]` times)."""
    up = await forward()
    state.hits += 1
    if state.hits > state.params.get("times", 10**9):
        return _response(up)
    return Response(up.content[: len(up.content) // 2], media_type="application/json")


@breaker("bad_gzip")
async def _bad_gzip(request: Request, state: ProxyState, forward: Forward) -> Response:
    """A body that says it is gzip and is not."""
    up = await forward()
    return Response(
        up.content,
        media_type="application/json",
        headers={"content-encoding": "gzip"},
    )


@breaker("huge_body")
async def _huge_body(request: Request, state: ProxyState, forward: Forward) -> Response:
    async def blanks() -> Any:
        yield b'{"tracking_activities": ['
        chunk = b" " * (1 << 20)
        for _ in range(80):
            yield chunk

    return StreamingResponse(blanks(), status_code=200, media_type="application/json")


# --- bodies --------------------------------------------------------------------------------
@breaker("replace_body")
async def _replace_body(request: Request, state: ProxyState, forward: Forward) -> Response:
    """The whole body replaced by `params["body"]` (bytes sent as they are)."""
    await forward()
    body = state.params["body"]
    content_type = state.params.get("content_type", "application/json")
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(content, status_code=state.params.get("status", 200), media_type=content_type)


@breaker("edit_body")
async def _edit_body(request: Request, state: ProxyState, forward: Forward) -> Response:
    """The JSON body passed through `params["edit"](body, request, state)`."""
    up = await forward()
    body = state.params["edit"](up.json(), request, state)
    return _response(up, body, **state.params.get("headers", {}))


@breaker("status")
async def _status(request: Request, state: ProxyState, forward: Forward) -> Response:
    """`params["status"]` with `params["body"]` for `params["times"]` requests, then forwards;
    `params["retry_after"]` is sent as `Retry-After` ("date:N" = an HTTP date N s ahead)."""
    state.hits += 1
    state.memory.setdefault("times", []).append(time.monotonic())
    if state.hits > state.params.get("times", 10**9):
        return _response(await forward())
    headers: dict[str, str] = {}
    retry_after = state.params.get("retry_after")
    if retry_after is not None:
        if str(retry_after).startswith("date:"):
            when = datetime.now(UTC) + timedelta(seconds=float(retry_after[5:]) + 1)
            retry_after = format_datetime(when, usegmt=True)
        headers["retry-after"] = str(retry_after)
    body = state.params.get("body", [{"error_key": "x", "error_message": "broken on purpose"}])
    if callable(body):
        body = body(request)
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(
        content,
        status_code=state.params["status"],
        headers={"content-type": "application/json", **headers},
    )


# --- the server ------------------------------------------------------------------------------
class HostileProxy:
    """The proxy app on a free port, in a daemon thread; `reset()` between tests."""

    def __init__(self, upstream: str) -> None:
        self.state = ProxyState(upstream=upstream)
        self._client = httpx.AsyncClient(base_url=upstream, timeout=60)
        app = Starlette(
            routes=[Route("/{path:path}", self._handle, methods=["GET", "POST", "PUT"])]
        )
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, log_level="critical", timeout_graceful_shutdown=1, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        while not self._server.started:
            time.sleep(0.02)

    def reset(self, mode: str = "pass", target: str | None = None, **params: Any) -> None:
        self.state.mode, self.state.target, self.state.params = mode, target, params
        self.state.memory, self.state.seen, self.state.hits = {}, [], 0
        self.state.issued = set()

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def hits_on(self, path: str) -> list[Seen]:
        return [s for s in self.state.seen if s.path == path]

    async def _forward(self, request: Request) -> Upstream:
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in {"host", "content-length"}
        }
        response = await self._client.request(
            request.method,
            request.url.path,
            params=list(request.query_params.multi_items()),
            headers=headers,
            content=await request.body(),
        )
        if b"access_token" in response.content and request.method == "POST":
            body = response.json()
            self.state.issued |= {
                str(body[k]) for k in ("access_token", "refresh_token") if body.get(k)
            }
        return Upstream(response.status_code, dict(response.headers), response.content)

    async def _handle(self, request: Request) -> Response:
        state = self.state
        state.seen.append(
            Seen(request.url.path, request.url.query, dict(request.headers), time.monotonic())
        )
        applies = state.mode != "pass" and (
            state.target is None or request.url.path == state.target
        )
        if not applies:
            return _response(await self._forward(request))
        return await BREAKERS[state.mode](request, state, lambda: self._forward(request))


class TrapServer:
    """A foreign host: records every request that reaches it, answers 404."""

    def __init__(self) -> None:
        self.proxy = HostileProxy("http://127.0.0.1:9")  # never forwards: mode set below
        self.proxy.reset("status", None, status=404, body=[])
        self.url = self.proxy.url

    @property
    def seen(self) -> list[Seen]:
        return self.proxy.state.seen

    def stop(self) -> None:
        self.proxy.stop()
