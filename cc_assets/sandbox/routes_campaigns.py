"""v3 discovery routes: the campaign list, a campaign, an activity and its send history."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.routing import Route

from cc_assets.sandbox.account import Activity, Campaign, stable_uuid
from cc_assets.sandbox.pagination import BadCursorError, decode_cursor, encode_cursor
from cc_assets.sandbox.responses import JSON, bad_request, not_found
from cc_assets.sandbox.routes_reports import QueryError, next_link, parse_limit, service_of
from cc_assets.sandbox.service import SandboxService


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _parse_date(raw: str | None, name: str) -> datetime | None:
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(f"{name} must be an ISO-8601 date-time.") from None


def _campaign_summary(campaign: Campaign, epoch: int) -> dict[str, Any]:
    return {
        "campaign_id": campaign.campaign_id,
        "created_at": _iso(campaign.created_at),
        "current_status": campaign.status_at(epoch),
        "name": campaign.name,
        "type": campaign.type,
        "type_code": campaign.type_code,
        "updated_at": _iso(campaign.updated_at_as_of(epoch)),
    }


async def list_campaigns(request: Request) -> JSON:
    """`GET /emails`: newest `updated_at` first, filtered on `updated_at`."""
    service = service_of(request)
    params = request.query_params
    try:
        limit = parse_limit(request, default=50, low=1, high=500)
        after = _parse_date(params.get("after_date"), "after_date")
        before = _parse_date(params.get("before_date"), "before_date")
        offset = int(decode_cursor(params["next"])["o"]) if "next" in params else 0
    except QueryError as exc:
        return bad_request(str(exc))
    except (BadCursorError, KeyError, ValueError):
        return bad_request("The next cursor is not valid.", key="query.param.next.invalid")
    epoch = service.clock.epoch()
    visible = [c for c in service.account.campaigns if c.created_at.timestamp() <= epoch]
    items = sorted(
        ((c.updated_at_as_of(epoch), c) for c in visible),
        key=lambda item: (item[0], item[1].campaign_id),
        reverse=True,
    )
    if after is not None:
        items = [item for item in items if item[0] >= after]
    if before is not None:
        items = [item for item in items if item[0] <= before]
    page = items[offset : offset + limit]
    body: dict[str, Any] = {"campaigns": [_campaign_summary(c, epoch) for _, c in page]}
    if offset + limit < len(items):
        query = {k: v for k, v in params.items() if k in {"after_date", "before_date"}}
        query |= {"limit": limit, "next": encode_cursor(limit=limit, o=offset + limit)}
        body["_links"] = next_link(request, urlencode(query))
    return JSON(body)


async def get_campaign(request: Request) -> JSON:
    """One campaign. Its `current_status` is upper case here (`DONE`) and title case in the
    list (`Done`), as a recording of the live API shows (`campaign_status` variant)."""
    service = service_of(request)
    campaign = service.account.campaign_by_id.get(request.path_params["campaign_id"])
    if campaign is None:
        return not_found("Email campaign not found.")
    epoch = service.clock.epoch()
    body = _campaign_summary(campaign, epoch)
    if service.config.campaign_status == "detail_upper_case":
        body["current_status"] = body["current_status"].upper()
    body["campaign_activities"] = [
        {"campaign_activity_id": a.activity_id, "role": a.role} for a in campaign.activities
    ]
    return JSON(body)


def _activity(request: Request) -> tuple[SandboxService, Activity | None]:
    service = service_of(request)
    return service, service.account.activity_by_id.get(request.path_params["activity_id"])


async def get_activity(request: Request) -> JSON:
    """An activity, with the fields a recording of the live API shows beside the documented
    ones (`document_id`, `segment_ids`)."""
    service, activity = _activity(request)
    if activity is None:
        return not_found("Email campaign activity not found.")
    return JSON(
        {
            "campaign_activity_id": activity.activity_id,
            "campaign_id": activity.campaign_id,
            "role": activity.role,
            "contact_list_ids": [],
            "segment_ids": [],
            "document_id": stable_uuid(activity.activity_id, "document"),
            "current_status": activity.status_at(service.clock.epoch()),
            "format_type": 5,
            "from_email": activity.from_email,
            "from_name": activity.from_name,
            "reply_to_email": activity.reply_to_email,
            "subject": activity.subject,
            "preheader": "",
            "template_id": "",
        }
    )


async def send_history(request: Request) -> JSON:
    service, activity = _activity(request)
    if activity is None:
        return not_found("Email campaign activity not found.")
    finished = activity.finished_at()
    if finished is None or finished.timestamp() > service.clock.epoch():
        return JSON([])
    sends = len(service.events(activity).sends)
    return JSON(
        [
            {
                "send_id": 1,
                "contact_list_ids": [],
                "count": sends,
                "run_date": _iso(activity.send_at or finished),
                "send_status": "COMPLETED",
                "reason_code": 0,
            }
        ]
    )


routes = [
    Route("/v3/emails", list_campaigns),
    Route("/v3/emails/activities/{activity_id}/send_history", send_history),
    Route("/v3/emails/activities/{activity_id}", get_activity),
    Route("/v3/emails/{campaign_id}", get_campaign),
]
