"""v3 contact routes: the contact list and the contact reports."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.routing import Route

from cc_assets.sandbox.contact_activity import ALL_TYPES, contact_events
from cc_assets.sandbox.pagination import BadCursorError, decode_cursor, encode_cursor
from cc_assets.sandbox.responses import JSON, bad_request, not_found
from cc_assets.sandbox.routes_reports import QueryError, next_link, parse_limit, service_of
from cc_assets.sandbox.service import SandboxService

SUMMARY_FIELDS = {  # activity_summary says em_unsubscribes where the reports say em_optouts
    "em_sends": "em_sends",
    "em_opens": "em_opens",
    "em_clicks": "em_clicks",
    "em_bounces": "em_bounces",
    "em_forwards": "em_forwards",
    "em_optouts": "em_unsubscribes",
}


def _contact_index(request: Request) -> int | None:
    return service_of(request).account.contacts.index_of(request.path_params["contact_id"])


def _contact_resource(service: SandboxService, index: int) -> dict[str, Any]:
    contacts = service.account.contacts
    created = service.iso(int(service.account.config.now.timestamp()) - 400 * 86400 + index)
    resource: dict[str, Any] = {
        "contact_id": contacts.contact_id(index),
        "email_address": {
            "address": contacts.current_email_address(index) or contacts.email_address(index),
            "permission_to_send": "implicit",
            "created_at": created,
            "updated_at": created,
            "opt_in_source": "Account",
            "confirm_status": "off",
        },
        "created_at": created,
        "updated_at": created,
    }
    for field, value in (
        ("first_name", contacts.first_name(index)),
        ("last_name", contacts.last_name(index)),
        ("deleted_at", service.account.deleted_at(index)),
    ):
        if value is not None:
            resource[field] = value
    return resource


async def list_contacts(request: Request) -> JSON:
    """`GET /contacts` with a `cursor`; deleted contacts only with status=all."""
    service = service_of(request)
    params = request.query_params
    try:
        limit = parse_limit(request, default=50, low=1, high=500)
        start = int(decode_cursor(params["cursor"])["o"]) if "cursor" in params else 0
    except QueryError as exc:
        return bad_request(str(exc))
    except (BadCursorError, KeyError, ValueError):
        return bad_request("The cursor is not valid.", key="query.param.cursor.invalid")
    include_deleted = "all" in params.get("status", "").split(",")
    contacts = service.account.contacts
    chosen, index = [], start
    while index < contacts.count and len(chosen) < limit:
        if include_deleted or not contacts.deleted[index]:
            chosen.append(_contact_resource(service, index))
        index += 1
    body: dict[str, Any] = {"contacts": chosen}
    if params.get("include_count") == "true":
        body["contacts_count"] = int(
            contacts.count - (0 if include_deleted else contacts.deleted.sum())
        )
    if index < contacts.count:
        query = {"limit": limit, "cursor": encode_cursor(limit=limit, o=index)}
        if "status" in params:
            query["status"] = params["status"]
        body["_links"] = next_link(request, urlencode(query))
    return JSON(body)


def _requested_types(request: Request) -> set[str]:
    """Exactly one of the two type parameters; both or neither is a 400."""
    repeated = request.query_params.getlist("tracking_activity_type")
    listed = request.query_params.get("tracking_activities_list")
    if bool(repeated) == bool(listed):
        raise QueryError(
            "Specify exactly one of tracking_activity_type or tracking_activities_list."
        )
    types = repeated or [t.strip() for t in (listed or "").split(",") if t.strip()]
    unknown = [t for t in types if t not in ALL_TYPES]
    if unknown or not types:
        raise QueryError(f"Unknown tracking activity type(s): {', '.join(unknown) or '(none)'}.")
    return set(types)


async def activity_details(request: Request) -> JSON:
    service = service_of(request)
    contact = _contact_index(request)
    if contact is None:
        return not_found("Contact not found.")
    params = request.query_params
    try:
        types = _requested_types(request)
        limit = parse_limit(request, default=100, low=1, high=100)
        names = params.get("include_campaign_activity_names", "true").lower()
        if names not in {"true", "false"}:
            raise QueryError("include_campaign_activity_names must be true or false.")
        after = decode_cursor(params["next"])["k"] if "next" in params else None
    except QueryError as exc:
        return bad_request(str(exc))
    except (BadCursorError, KeyError):
        return bad_request("The next cursor is not valid.", key="query.param.next.invalid")
    events = contact_events(service, contact, types)
    if after is not None:
        last = tuple(int(part) for part in after.split("."))
        events = [e for e in events if (e.time, e.activity_index, e.type_index, e.uid) < last]
    page = events[:limit]
    contact_id = service.account.contacts.contact_id(contact)
    type_field = service.config.activity_type_field
    rows = []
    for event in page:
        row = {
            "contact_id": contact_id,
            "campaign_activity_id": event.campaign_activity_id,
            type_field: event.tracking_activity_type,
            "created_time": service.iso(event.time),
        }
        if names == "true":
            row["campaign_activity_name"] = event.campaign_activity_name
        rows.append(row)
    body: dict[str, Any] = {"tracking_activities": rows}
    if len(events) > limit:
        query = [(k, v) for k, v in params.multi_items() if k != "next"]
        query.append(("next", encode_cursor(k=page[-1].cursor_key, limit=limit)))
        body["_links"] = next_link(request, urlencode(query))
    return JSON(body)


def _range(request: Request) -> tuple[int, int]:
    params = request.query_params
    if "start" not in params or "end" not in params:
        raise QueryError("start and end are required.")
    try:
        start = datetime.fromisoformat(params["start"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(params["end"].replace("Z", "+00:00"))
    except ValueError:
        raise QueryError("start and end must be ISO-8601 date-times.") from None
    if start.tzinfo is None or end.tzinfo is None or end < start:
        raise QueryError("start and end must carry a time zone and end must follow start.")
    return int(start.timestamp()), int(end.timestamp())


def _contact_and_range(request: Request) -> tuple[int, int, int] | JSON:
    """The contact's index and the [start, end] window, or the error CC would answer."""
    contact = _contact_index(request)
    if contact is None:
        return not_found("Contact not found.")
    try:
        start, end = _range(request)
    except QueryError as exc:
        return bad_request(str(exc))
    return contact, start, end


async def activity_summary(request: Request) -> JSON:
    service = service_of(request)
    parsed = _contact_and_range(request)
    if isinstance(parsed, JSON):
        return parsed
    contact, start, end = parsed
    per_activity: dict[str, dict[str, Any]] = defaultdict(dict)
    names = SUMMARY_FIELDS
    for event in contact_events(service, contact, set(names)):
        if not start <= event.time <= end:
            continue
        entry = per_activity[event.campaign_activity_id]
        entry.setdefault("campaign_activity_id", event.campaign_activity_id)
        for key in names.values():
            entry.setdefault(key, 0)
        entry[names[event.tracking_activity_type]] += 1
        if event.tracking_activity_type == "em_sends":
            entry["start_on"] = service.iso(event.time)
    contact_id = service.account.contacts.contact_id(contact)
    return JSON({"contact_id": contact_id, "campaign_activities": list(per_activity.values())})


async def open_and_click_rates(request: Request) -> JSON:
    service = service_of(request)
    parsed = _contact_and_range(request)
    if isinstance(parsed, JSON):
        return parsed
    contact, start, end = parsed
    if end - start > 5 * 366 * 86400:
        return bad_request("The date range cannot exceed 5 years.")
    seen: dict[str, set[str]] = defaultdict(set)
    for event in contact_events(service, contact, {"em_sends", "em_opens", "em_clicks"}):
        if start <= event.time <= end:
            seen[event.campaign_activity_id].add(event.tracking_activity_type)
    sent = [types for types in seen.values() if "em_sends" in types]
    count = len(sent)
    return JSON(
        {
            "contact_id": service.account.contacts.contact_id(contact),
            "included_activities_count": count,
            "average_open_rate": sum("em_opens" in t for t in sent) / count if count else 0,
            "average_click_rate": sum("em_clicks" in t for t in sent) / count if count else 0,
        }
    )


routes = [
    Route("/v3/contacts", list_contacts),
    Route("/v3/reports/contact_reports/{contact_id}/activity_details", activity_details),
    Route("/v3/reports/contact_reports/{contact_id}/activity_summary", activity_summary),
    Route("/v3/reports/contact_reports/{contact_id}/open_and_click_rates", open_and_click_rates),
]
