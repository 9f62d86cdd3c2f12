"""`/__sandbox__/...`: the handles tests and demos turn (clock, faults, limits, tokens).

Never authenticated and never limited: it is not part of the API being imitated. Handles that
concern one account of the application take `?account=acctN` (unknown names are a 400).
"""

from __future__ import annotations

import os
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from cc_assets.sandbox.account import account_fingerprint
from cc_assets.sandbox.responses import JSON, bad_request


def _parts(request: Request) -> Any:
    return request.app.state


def _account(request: Request) -> str | None:
    """The `account` query parameter; ValueError for a name the server does not serve."""
    name = request.query_params.get("account")
    if name is not None and name not in _parts(request).accounts:
        raise ValueError(
            f"no sandbox account {name!r} (this server has {', '.join(_parts(request).accounts)})"
        )
    return name


async def info(request: Request) -> JSON:
    """Credentials (of account 0), and which account this server serves: its definition, clock
    mode and fingerprint (`account_fingerprint`), and the pid that stops it; `accounts` lists
    every account with its first tokens, identity and definition (`config`)."""
    state = _parts(request)
    config, clock_mode = state.service.config, state.service.clock.mode
    return JSON(
        {
            **state.credentials,
            "authorize_url": state.authorize_url,
            "accounts": [
                {**issued, "config": state.accounts[issued["name"]].config.as_dict()}
                for issued in state.issued
            ],
            "account": config.as_dict(),
            "clock": clock_mode,
            "fingerprint": account_fingerprint(config, clock_mode),
            "pid": os.getpid(),
        }
    )


async def clock(request: Request) -> JSON:
    return JSON({"now": _parts(request).service.iso(_parts(request).service.clock.epoch())})


async def advance_clock(request: Request) -> JSON:
    body = await request.json()
    try:
        _parts(request).service.clock.advance(float(body["seconds"]))
    except (KeyError, TypeError, ValueError) as exc:
        return bad_request(f"seconds: {exc}")
    return await clock(request)


async def faults(request: Request) -> JSON:
    injector = _parts(request).faults
    if request.method == "PUT":
        try:
            injector.configure(**{k: float(v) for k, v in (await request.json()).items()})
        except (TypeError, ValueError) as exc:
            return bad_request(str(exc))
    return JSON(injector.settings())


async def path_faults(request: Request) -> JSON:
    """`{path-regex: status}` for every account's requests, or with `?account=` for one's."""
    injector = _parts(request).faults
    try:
        account = _account(request)
        if request.method == "PUT":
            body = await request.json()
            if not isinstance(body, dict):
                return bad_request("the body must be an object {path-regex: status}")
            injector.configure_paths(body, account)
    except (TypeError, ValueError) as exc:
        return bad_request(str(exc))
    return JSON(injector.path_faults(account))


async def limits(request: Request) -> JSON:
    rules = _parts(request).limits
    if request.method == "PUT":
        body = await request.json()
        rules.configure(body.get("requests_per_second"), body.get("daily_quota"))
    return JSON(
        {"requests_per_second": rules.requests_per_second, "daily_quota": rules.daily_quota}
    )


async def reset_quota(request: Request) -> JSON:
    _parts(request).limits.reset_quota()
    return JSON({"ok": True})


async def requests_seen(request: Request) -> JSON:
    return JSON(_parts(request).limits.snapshot())


async def reset_requests(request: Request) -> JSON:
    _parts(request).limits.reset()
    return JSON({"ok": True})


async def expire_tokens(request: Request) -> JSON:
    _parts(request).authority.expire_all()
    return JSON({"ok": True})


async def revoke_tokens(request: Request) -> JSON:
    """Revoke the grant of `?account=` (without it: of every account)."""
    try:
        _parts(request).authority.revoke_refresh_tokens(_account(request))
    except ValueError as exc:
        return bad_request(str(exc))
    return JSON({"ok": True})


async def authorization_code(request: Request) -> JSON:
    try:
        code = _parts(request).authority.issue_authorization_code(account=_account(request))
    except ValueError as exc:
        return bad_request(str(exc))
    return JSON({"code": code})


async def consent(request: Request) -> JSON:
    """The account whose user consents at the authorize endpoint (`authorize.py`); PUT
    `{"account": "acct2"}`, or `{"account": null}` for a user who declines."""
    endpoint = _parts(request).consent
    if request.method == "PUT":
        body = await request.json()
        try:
            endpoint.set_consenting(body["account"])
        except (KeyError, TypeError, ValueError) as exc:
            return bad_request(f"account: {exc}")
    return JSON({"account": endpoint.consenting})


routes = [
    Route("/__sandbox__/info", info),
    Route("/__sandbox__/clock", clock),
    Route("/__sandbox__/clock/advance", advance_clock, methods=["POST"]),
    Route("/__sandbox__/faults", faults, methods=["GET", "PUT"]),
    Route("/__sandbox__/faults/paths", path_faults, methods=["GET", "PUT"]),
    Route("/__sandbox__/limits", limits, methods=["GET", "PUT"]),
    Route("/__sandbox__/limits/reset-quota", reset_quota, methods=["POST"]),
    Route("/__sandbox__/requests", requests_seen),
    Route("/__sandbox__/requests/reset", reset_requests, methods=["POST"]),
    Route("/__sandbox__/tokens/expire", expire_tokens, methods=["POST"]),
    Route("/__sandbox__/tokens/revoke", revoke_tokens, methods=["POST"]),
    Route("/__sandbox__/authorization-code", authorization_code, methods=["POST"]),
    Route("/__sandbox__/consent", consent, methods=["GET", "PUT"]),
]
