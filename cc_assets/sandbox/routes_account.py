"""`GET /v3/account/summary`: who the account behind the bearer token is (scope account_read).

The body is CC's `Customer` object; `physical_address` and `company_logo` come only when
`extra_fields` asks for them, and a logo never exists in the sandbox (CC then returns nothing
for it). An `extra_fields` value outside the spec's enum is a 400, as a validating server
answers it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from cc_assets.sandbox.limits import ACCOUNT_KEY
from cc_assets.sandbox.responses import JSON, bad_request

EXTRA_FIELDS = ("physical_address", "company_logo")


async def account_summary(request: Request) -> JSON:
    raw = request.query_params.get("extra_fields")
    wanted = [] if raw is None else [part.strip() for part in raw.split(",")]
    unknown = [part for part in wanted if part not in EXTRA_FIELDS]
    if unknown:
        return bad_request(
            f"extra_fields: {', '.join(unknown)} is not one of {', '.join(EXTRA_FIELDS)}."
        )
    customer = request.app.state.accounts[request.scope[ACCOUNT_KEY]].customer
    return JSON({k: v for k, v in customer.items() if k not in EXTRA_FIELDS or k in wanted})


routes = [Route("/v3/account/summary", account_summary)]
