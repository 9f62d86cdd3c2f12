"""Serves the real middleware and token routes over real HTTP (uvicorn in a thread).

The app around them is deliberately tiny so that a failure points at the rule under test, not
at the sandbox's data; one test in test_full_sandbox.py checks the wiring in the real server.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from cc_assets.sandbox.oauth import TokenAuthority, refusal, token_routes
from cc_assets.sandbox.responses import JSON, unauthorized

T = TypeVar("T")
PAYLOAD = {"items": [{"n": n, "text": "x" * 20} for n in range(50)]}


class ManualClock:
    """A clock the test moves by hand (aware UTC datetimes)."""

    def __init__(self, start: datetime) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """Run `app` under uvicorn (httptools, as `cc-sandbox serve` does); yield its root URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    config = uvicorn.Config(app, http="httptools", log_level="critical", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def tiny_app(authority: TokenAuthority, middleware: list[Middleware]) -> Starlette:
    """Token routes, one v3 and one v2 endpoint, one control endpoint; `middleware` around them
    (outermost first, as Starlette lists it)."""

    async def payload(request: Request) -> JSON:
        return JSON(PAYLOAD)

    async def whoami(request: Request) -> Response:
        grant = authority.grant_of(request.headers.get("authorization"))
        refused = refusal(grant, "campaign_data")
        if grant is None or refused is not None:
            return refused or unauthorized()
        return JSON({"scopes": sorted(grant.scopes), "account": grant.account})

    routes = [
        Route("/v3/payload", payload),
        Route("/v2/payload", payload),
        Route("/v3/whoami", whoami),
        Route("/__sandbox__/payload", payload),
        *token_routes(authority),
    ]
    return Starlette(routes=routes, middleware=middleware)


@dataclass
class Served:
    """A running tiny app: its root URL and the live middleware instances inside it."""

    root: str
    app: Starlette

    def instance(self, kind: type[T]) -> T:
        """The live `kind` middleware (Starlette builds its stack on the first request)."""
        if self.app.middleware_stack is None:
            httpx.get(self.root + "/__sandbox__/payload").raise_for_status()
        node = self.app.middleware_stack
        while not isinstance(node, kind):
            node = node.app  # a missing middleware ends in AttributeError: a test bug
        return node


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """`serve(authority, middleware)` -> a running tiny app; stopped at teardown."""
    with ExitStack() as stack:

        def start(authority: TokenAuthority, middleware: list[Middleware] | None = None) -> Served:
            app = tiny_app(authority, middleware or [])
            return Served(stack.enter_context(serving(app)), app)

        yield start
