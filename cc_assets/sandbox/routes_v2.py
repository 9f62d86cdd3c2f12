"""The legacy v2 tracking endpoints of the seed documents.

A v2 campaign is the v3 campaign's primary email; ids are numeric strings. Pages carry
`meta.pagination.next_link` and filter on `created_since` ("on or after").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.routing import Route

from cc_assets.sandbox.account import Activity
from cc_assets.sandbox.events import BOUNCE_CODES, EventColumns
from cc_assets.sandbox.pagination import BadCursorError, encode_cursor
from cc_assets.sandbox.render import timestamps, url_id
from cc_assets.sandbox.responses import JSON, bad_request, not_found
from cc_assets.sandbox.routes_reports import QueryError, page_after, parse_limit, service_of
from cc_assets.sandbox.stats import activity_stats

V2_REPORTS = {  # v2 report -> (v3 events, activity_type, date field)
    "sends": ("sends", "EMAIL_SEND", "send_date"),
    "opens": ("opens", "EMAIL_OPEN", "open_date"),
    "clicks": ("clicks", "EMAIL_CLICK", "click_date"),
    "forwards": ("forwards", "EMAIL_FORWARD", "forward_date"),
    "unsubscribes": ("optouts", "EMAIL_UNSUBSCRIBE", "unsubscribe_date"),
    "bounces": ("bounces", "EMAIL_BOUNCE", "bounce_date"),
}
V2_SUMMARY_REPORTS = ("sends", "opens", "clicks", "forwards", "optouts", "bounces")
BOUNCE_DESCRIPTIONS = {
    "B": "Non-existent address", "D": "Undeliverable", "F": "Mailbox full", "S": "Suspended",
    "V": "Vacation or autoreply", "X": "Other", "Z": "Blocked",
}  # fmt: skip


def _created_since(request: Request) -> int | None:
    raw = request.query_params.get("created_since")
    if raw is None:
        return None
    try:
        return int(datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp())
    except ValueError:
        raise QueryError("created_since must be an ISO-8601 date-time.") from None


def _rows(
    request: Request, activity: Activity, report: str, columns: EventColumns
) -> list[dict[str, Any]]:
    service = service_of(request)
    contacts = service.account.contacts
    campaign = service.account.campaign_by_id[activity.campaign_id]
    _, activity_type, date_field = V2_REPORTS[report]
    rows = []
    for i, (contact, moment) in enumerate(
        zip(columns.contact.tolist(), timestamps(columns.key), strict=True)
    ):
        row: dict[str, Any] = {
            "activity_type": activity_type,
            "campaign_id": campaign.v2_id,
            "contact_id": str(contact + 1),
            "email_address": contacts.email_address(contact),
            date_field: moment,
        }
        if report == "clicks":
            row["link_id"] = url_id(activity, int(columns.extra[i]))
        elif report == "bounces":
            code = BOUNCE_CODES[int(columns.extra[i])]
            row |= {
                "bounce_code": code,
                "bounce_description": BOUNCE_DESCRIPTIONS[code],
                "bounce_message": "",
            }
        elif report == "unsubscribes":
            row |= {"unsubscribe_reason": "", "unsubscribe_source": "ACTION_BY_CUSTOMER"}
        rows.append(row)
    return rows


def _filtered(
    request: Request, activity: Activity, report: str, contact: int | None
) -> EventColumns:
    """One v2 report of an activity, narrowed to a contact and to `created_since`."""
    columns = service_of(request).report(activity, V2_REPORTS[report][0])
    if contact is not None:
        columns = columns.where(columns.contact == contact)
    since = _created_since(request)
    return columns if since is None else columns.where(columns.time >= since)


def _page(request: Request, activity: Activity, report: str) -> JSON:
    try:
        limit = parse_limit(request, default=500, low=1, high=500)
        columns = _filtered(request, activity, report, None)
        page, next_key = page_after(columns, request.query_params.get("next"), limit)
    except QueryError as exc:
        return bad_request(str(exc))
    except BadCursorError:
        return bad_request("The next link is not valid.")
    meta: dict[str, Any] = {"pagination": {}}
    if next_key is not None:
        query = {k: v for k, v in request.query_params.items() if k in {"created_since"}}
        query |= {"limit": limit, "next": encode_cursor(k=next_key, limit=limit)}
        meta["pagination"]["next_link"] = f"{request.url.path}?{urlencode(query)}"
    return JSON({"meta": meta, "results": _rows(request, activity, report, page)})


def _contact_of(request: Request) -> int | None:
    """The contact index behind a v2 numeric contact id, or None if there is no such contact."""
    try:
        contact = int(request.path_params["contact_id"]) - 1
    except ValueError:
        return None
    return contact if 0 <= contact < service_of(request).account.contacts.count else None


async def campaign_tracking(request: Request) -> JSON:
    service = service_of(request)
    campaign = service.account.campaign_by_v2_id.get(request.path_params["campaign_id"])
    report = request.path_params["report"]
    if campaign is None or report not in V2_REPORTS:
        return not_found("Campaign not found.")
    return _page(request, campaign.primary, report)


def _summary(stats: dict[str, int]) -> dict[str, int]:
    """v2's summary fields from v3-style counts."""
    return {
        "sends": stats["em_sends"],
        "opens": stats["em_opens"],
        "clicks": stats["em_clicks"],
        "forwards": stats["em_forwards"],
        "unsubscribes": stats["em_optouts"],
        "bounces": stats["em_bounces"],
        "spam_count": stats["em_abuse"],
    }


async def campaign_summary(request: Request) -> JSON:
    service = service_of(request)
    campaign = service.account.campaign_by_v2_id.get(request.path_params["campaign_id"])
    if campaign is None:
        return not_found("Campaign not found.")
    return JSON(_summary(activity_stats(service.events(campaign.primary), service.stats_time())))


async def contact_summary(request: Request) -> JSON:
    """A contact's counts over every campaign (v2 contact tracking `reports/summary`)."""
    service = service_of(request)
    contact = _contact_of(request)
    if contact is None:
        return not_found("Contact not found.")
    epoch = service.stats_time()
    totals = {f"em_{report}": 0 for report in V2_SUMMARY_REPORTS} | {"em_abuse": 0}
    for campaign in service.account.campaigns:
        events = service.events(campaign.primary)
        for report in V2_SUMMARY_REPORTS:
            columns = getattr(events, report).as_of(epoch)
            totals[f"em_{report}"] += int((columns.contact == contact).sum())
    return JSON({**_summary(totals), "contact_id": str(contact + 1)})


async def contact_tracking(request: Request) -> JSON:
    """One contact's events of one kind across every campaign, newest first (one page)."""
    service = service_of(request)
    report = request.path_params["report"]
    contact = _contact_of(request)
    if contact is None or report not in V2_REPORTS:
        return not_found("Contact not found.")
    try:
        limit = parse_limit(request, default=500, low=1, high=500)
        rows = [
            row
            for campaign in service.account.campaigns
            for row in _rows(
                request,
                campaign.primary,
                report,
                _filtered(request, campaign.primary, report, contact),
            )
        ]
    except QueryError as exc:
        return bad_request(str(exc))
    rows.sort(key=lambda row: row[V2_REPORTS[report][2]], reverse=True)
    return JSON({"meta": {"pagination": {}}, "results": rows[:limit]})


routes = [
    Route("/v2/emailmarketing/campaigns/{campaign_id}/tracking/reports/summary", campaign_summary),
    Route("/v2/emailmarketing/campaigns/{campaign_id}/tracking/{report}", campaign_tracking),
    Route("/v2/contacts/{contact_id}/tracking/reports/summary", contact_summary),
    Route("/v2/contacts/{contact_id}/tracking/{report}", contact_tracking),
]
