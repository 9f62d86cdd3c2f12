"""Assembles one sandbox server: routes, then auth, faults and limits around the API paths."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime

from starlette.applications import Starlette
from starlette.middleware import Middleware

from cc_assets.sandbox import control, routes_campaigns, routes_contacts, routes_reports, routes_v2
from cc_assets.sandbox.account import AccountConfig
from cc_assets.sandbox.events import DEFAULT_CACHE_BYTES
from cc_assets.sandbox.extra_field import UnknownFieldInjector
from cc_assets.sandbox.faults import FaultInjector, FaultSettings
from cc_assets.sandbox.limits import RequestLimits
from cc_assets.sandbox.oauth import TokenAuthority, token_routes
from cc_assets.sandbox.responses import JSON
from cc_assets.sandbox.rules import BearerAuth
from cc_assets.sandbox.service import SandboxService


@dataclass
class ServerOptions:
    """How the server behaves, apart from which account it serves."""

    requests_per_second: float = 4
    daily_quota: int = 10_000
    token_lifetime: int = 86_400
    rotating_refresh_tokens: bool = True
    clock: str = "fixed"  # fixed | live | daily (clock.py)
    clock_start: datetime | None = None  # the account's `now` unless earlier (a replay)
    event_cache_mb: int = DEFAULT_CACHE_BYTES >> 20
    faults: FaultSettings = field(default_factory=FaultSettings)
    fault_seed: int | None = None


async def _not_found(request, exc) -> JSON:
    return JSON(
        [
            {
                "error_key": "resource.not_found",
                "error_message": "The requested resource was not found.",
            }
        ],
        status_code=404,
    )


def build_app(config: AccountConfig, options: ServerOptions, base_url: str = "") -> Starlette:
    """The ASGI app. Its `state` holds the parts the control API turns at run time."""
    service = SandboxService(
        config,
        clock_mode=options.clock,
        event_cache_bytes=options.event_cache_mb << 20,
        clock_start=options.clock_start,
    )
    authority = TokenAuthority(
        client_id=f"sandbox-{config.seed}",
        client_secret=secrets.token_urlsafe(24),
        lifetime_seconds=options.token_lifetime,
        rotating=options.rotating_refresh_tokens,
        expires_in_text=config.token_expires_in == "string",
    )
    api_key = f"sandbox-api-key-{config.seed}"
    app = Starlette(
        routes=[
            *control.routes,
            *token_routes(authority),
            *routes_campaigns.routes,
            *routes_reports.routes,
            *routes_contacts.routes,
            *routes_v2.routes,
        ],
        middleware=[
            Middleware(
                RequestLimits,
                requests_per_second=options.requests_per_second,
                daily_quota=options.daily_quota,
                clock=service.clock.now,
            ),
            Middleware(FaultInjector, **asdict(options.faults), seed=options.fault_seed),
            Middleware(BearerAuth, authority=authority, api_key=api_key),
            *([Middleware(UnknownFieldInjector)] if config.unknown_field == "everywhere" else []),
        ],
        exception_handlers={404: _not_found},
    )
    tokens = authority.issue()
    app.state.service = service
    app.state.authority = authority
    app.state.credentials = {
        "base_url": f"{base_url}/v3",
        "token_url": f"{base_url}/oauth2/default/v1/token",
        "client_id": authority.client_id,
        "client_secret": authority.client_secret,
        "refresh_token": tokens["refresh_token"],
        "access_token": tokens["access_token"],
        "api_key": api_key,
        "v2_base_url": f"{base_url}/v2",
    }
    return app


def middleware_instances(app: Starlette) -> None:
    """Starlette builds middleware lazily; build it now and expose the live instances."""
    stack = app.build_middleware_stack()
    app.middleware_stack = stack
    node = stack
    while node is not None:
        if isinstance(node, RequestLimits):
            app.state.limits = node
        elif isinstance(node, FaultInjector):
            app.state.faults = node
        node = getattr(node, "app", None)
