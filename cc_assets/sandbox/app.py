"""Assembles one sandbox server: routes, then auth, faults and limits around the API paths."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime

from starlette.applications import Starlette
from starlette.middleware import Middleware

from cc_assets.sandbox import (
    control,
    routes_account,
    routes_campaigns,
    routes_contacts,
    routes_reports,
    routes_v2,
)
from cc_assets.sandbox.accounts import SandboxAccount
from cc_assets.sandbox.authorize import AUTHORIZE_PATH, AuthorizeEndpoint, authorize_routes
from cc_assets.sandbox.clock import SandboxClock
from cc_assets.sandbox.events import DEFAULT_CACHE_BYTES
from cc_assets.sandbox.extra_field import UnknownFieldInjector
from cc_assets.sandbox.faults import FaultInjector, FaultSettings
from cc_assets.sandbox.limits import RequestLimits
from cc_assets.sandbox.oauth import TokenAuthority, token_routes
from cc_assets.sandbox.responses import JSON
from cc_assets.sandbox.rules import BearerAuth, ReadCaller
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
    redirect_uris: tuple[str, ...] = ()  # the app's registered redirect URIs; () = any


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


def _cache_shares(accounts: list[SandboxAccount], total: int) -> list[int]:
    """The event cache split by contact count: one budget for the server, not per account."""
    contacts = sum(a.config.contacts for a in accounts)
    return [max(1, total * a.config.contacts // contacts) for a in accounts]


def build_app(
    accounts: list[SandboxAccount], options: ServerOptions, base_url: str = ""
) -> Starlette:
    """The ASGI app serving `accounts` under one application (one client id and secret, one
    api_key, one set of limits). Its `state` holds the parts the control API turns at run
    time; `credentials` describe account 0, as a one-account server always has."""
    first = accounts[0].config
    clock = SandboxClock(options.clock_start or first.now, mode=options.clock)
    shares = _cache_shares(accounts, options.event_cache_mb << 20)
    services = {
        a.name: SandboxService(a.config, event_cache_bytes=share, shared_clock=clock)
        for a, share in zip(accounts, shares, strict=True)
    }
    authority = TokenAuthority(
        client_id=f"sandbox-{first.seed}",
        client_secret=secrets.token_urlsafe(24),
        lifetime_seconds=options.token_lifetime,
        rotating=options.rotating_refresh_tokens,
        expires_in_text=first.token_expires_in == "string",
        accounts=tuple(services),
    )
    consent = AuthorizeEndpoint(authority, options.redirect_uris)
    api_key = f"sandbox-api-key-{first.seed}"
    app = Starlette(
        routes=[
            *control.routes,
            *token_routes(authority),
            *authorize_routes(consent),
            *routes_account.routes,
            *routes_campaigns.routes,
            *routes_reports.routes,
            *routes_contacts.routes,
            *routes_v2.routes,
        ],
        middleware=[
            Middleware(ReadCaller, authority=authority),
            Middleware(
                RequestLimits,
                requests_per_second=options.requests_per_second,
                daily_quota=options.daily_quota,
                clock=clock.now,
            ),
            Middleware(FaultInjector, **asdict(options.faults), seed=options.fault_seed),
            Middleware(BearerAuth, api_key=api_key),
            *([Middleware(UnknownFieldInjector)] if first.unknown_field == "everywhere" else []),
        ],
        exception_handlers={404: _not_found},
    )
    issued = [a.credentials(authority.issue(a.name)) for a in accounts]
    app.state.services = services
    app.state.service = services[accounts[0].name]
    app.state.accounts = {a.name: a for a in accounts}
    app.state.authority = authority
    app.state.consent = consent
    app.state.issued = issued
    app.state.credentials = {
        "base_url": f"{base_url}/v3",
        "token_url": f"{base_url}/oauth2/default/v1/token",
        "client_id": authority.client_id,
        "client_secret": authority.client_secret,
        "refresh_token": issued[0]["refresh_token"],
        "access_token": issued[0]["access_token"],
        "api_key": api_key,
        "v2_base_url": f"{base_url}/v2",
    }
    app.state.authorize_url = f"{base_url}{AUTHORIZE_PATH}"
    return app


def first_line(app: Starlette) -> dict[str, object]:
    """What `cc-sandbox serve` prints first: the credentials of account 0 and, when it serves
    several, every account's identity and tokens and the authorize endpoint. A one-account
    server prints exactly what it always did."""
    state = app.state
    if len(state.issued) == 1:
        return state.credentials
    return {**state.credentials, "authorize_url": state.authorize_url, "accounts": state.issued}


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
