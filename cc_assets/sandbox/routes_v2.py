"""The legacy v2 tracking endpoints of the seed documents.

A v2 campaign is the v3 campaign's primary email; ids are numeric strings. Pages carry
`meta.pagination.next_link` and filter on `created_since` ("on or after"). The `next` token
carries the page's filter and limit, because the official SDKs send `next` alone (plus
`api_key`) for the following page: a server that read the filter from the query again would
let a client that follows the SDK see rows outside its `created_since`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.routing import Route

from cc_assets.sandbox.account import Activity, Campaign
from cc_assets.sandbox.events import BOUNCE_CODES, OPT_OUT_REASONS, EventColumns
from cc_assets.sandbox.pagination import BadCursorError, decode_cursor, encode_cursor
from cc_assets.sandbox.render import link_url, timestamps, url_id
from cc_assets.sandbox.responses import JSON, bad_request, not_found
from cc_assets.sandbox.routes_reports import QueryError, parse_limit, service_of
from cc_assets.sandbox.service import SandboxService
from cc_assets.sandbox.stats import activity_stats

V2_REPORTS = {  # v2 report -> (v3 events, activity_type, date field)
    "sends": ("sends", "EMAIL_SEND", "send_date"),
    "opens": ("opens", "EMAIL_OPEN", "open_date"),
    "clicks": ("clicks", "EMAIL_CLICK", "click_date"),
    "forwards": ("forwards", "EMAIL_FORWARD", "forward_date"),
    "unsubscribes": ("optouts", "EMAIL_UNSUBSCRIBE", "unsubscribe_date"),
    "bounces": ("bounces", "EMAIL_BOUNCE", "bounce_date"),
}
DATE_OF_TYPE = {activity_type: date for _, activity_type, date in V2_REPORTS.values()}
V2_SUMMARY_REPORTS = ("sends", "opens", "clicks", "forwards", "optouts", "bounces")
BOUNCE_DESCRIPTIONS = {
    "B": "Non-existent address", "D": "Undeliverable", "F": "Mailbox full", "S": "Suspended",
    "V": "Vacation or autoreply", "X": "Other", "Z": "Blocked",
}  # fmt: skip


V2_STATUS_OF = {"DRAFT": "DRAFT", "SCHEDULED": "SCHEDULED", "EXECUTING": "RUNNING", "DONE": "SENT"}
"""v2 campaign statuses by the primary activity's v3 status; errored and removed campaigns are
not listed (v2's list filter knows only ALL, DRAFT, RUNNING, SCHEDULED and SENT)."""
CAMPAIGN_LIST_STATUSES = ("ALL", *V2_STATUS_OF.values())


def _epoch_param(raw: str | None, name: str) -> int | None:
    if raw is None:
        return None
    try:
        return int(datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp())
    except ValueError:
        raise QueryError(f"{name} must be an ISO-8601 date-time.") from None


def _created_since(request: Request) -> int | None:
    return _epoch_param(request.query_params.get("created_since"), "created_since")


@dataclass(frozen=True)
class PageRequest:
    """Where a page starts and what it keeps: from the `next` token if there is one (it holds
    the first page's filter and limit), else from the query."""

    limit: int
    since: int | None
    position: int | None
    extra: dict[str, str]

    @classmethod
    def of(cls, request: Request, *, default: int, high: int) -> PageRequest:
        token = request.query_params.get("next")
        if token is None:
            limit = parse_limit(request, default=default, low=1, high=high)
            return cls(limit, _created_since(request), None, {})
        fields = decode_cursor(token)
        try:
            limit, position = int(fields.pop("limit")), int(fields.pop("p"))
            since = int(fields.pop("s")) if "s" in fields else None
        except (KeyError, ValueError):
            raise BadCursorError(token) from None
        if not 1 <= limit <= high:
            raise BadCursorError(token)
        return cls(limit, since, position, fields)

    def next_link(self, request: Request, position: int, **extra: str) -> str:
        """The documented relative link (absolute with `next_href=absolute`), or the broken
        one the account's `v2_next_link` asks for."""
        token = encode_cursor(limit=self.limit, p=position, s=self.since, **extra)
        config = service_of(request).config
        path, query = request.url.path, urlencode({"next": token})
        if config.v2_next_link == "emailcampaigns":
            path = path.replace("/v2/emailmarketing/campaigns", "/v2/emailcampaigns", 1)
        elif config.v2_next_link == "other_path":
            path = path.rsplit("/", 1)[0] + "/elsewhere"
        elif config.v2_next_link == "no_token":
            query = urlencode({"limit": self.limit})
        elif config.v2_next_link == "other_host":
            return f"https://elsewhere.example{path}?{query}"
        if config.next_href == "absolute":
            return f"{request.url.scheme}://{request.url.netloc}{path}?{query}"
        return f"{path}?{query}"


def _rows(
    request: Request, activity: Activity, report: str, columns: EventColumns
) -> list[dict[str, Any]]:
    service = service_of(request)
    contacts = service.account.contacts
    campaign = service.account.campaign_by_id[activity.campaign_id]
    _, activity_type, date_field = V2_REPORTS[report]
    sdk = service.config.v2_records == "sdk_fixtures"
    rows = []
    for i, (contact, moment) in enumerate(
        zip(columns.contact.tolist(), timestamps(columns.key), strict=True)
    ):
        row: dict[str, Any] = {
            "activity_type": activity_type,
            "campaign_id": int(campaign.v2_id) if sdk else campaign.v2_id,
            "contact_id": str(contact + 1),
            "email_address": contacts.email_address(contact),
            date_field: moment,
        }
        if report == "clicks":
            row["link_id"] = url_id(activity, int(columns.extra[i]))
            if sdk:
                row["link_uri"] = link_url(activity, int(columns.extra[i]))
        elif report == "bounces":
            code = BOUNCE_CODES[int(columns.extra[i])]
            row |= {
                "bounce_code": code,
                "bounce_description": BOUNCE_DESCRIPTIONS[code],
                "bounce_message": "",
            }
        elif report == "unsubscribes":
            reason = OPT_OUT_REASONS[int(columns.extra[i])]
            row |= {"unsubscribe_source": "ACTION_BY_CUSTOMER"}
            if reason is not None:
                row["unsubscribe_reason"] = reason
        rows.append(row)
    return rows


def _filtered(
    request: Request, activity: Activity, report: str, contact: int | None, since: int | None
) -> EventColumns:
    """One v2 report of an activity, narrowed to a contact and to `created_since`."""
    columns = service_of(request).report(activity, V2_REPORTS[report][0])
    if contact is not None:
        columns = columns.where(columns.contact == contact)
    return columns if since is None else columns.where(columns.time >= since)


def _page(request: Request, activity: Activity, report: str) -> JSON:
    """A keyset page, newest first: events arriving meanwhile never shift the later pages."""
    try:
        wanted = PageRequest.of(request, default=500, high=500)
        columns = _filtered(request, activity, report, None, wanted.since)
        start = 0 if wanted.position is None else columns.count_newer(wanted.position - 1)
        page = columns.slice(start, start + wanted.limit)
    except QueryError as exc:
        return bad_request(str(exc))
    except BadCursorError:
        return bad_request("The next link is not valid.")
    meta: dict[str, Any] = {"pagination": {}}
    if start + wanted.limit < len(columns) and len(page):
        meta["pagination"]["next_link"] = wanted.next_link(request, int(page.key[-1]))
    return JSON({"meta": meta, "results": _rows(request, activity, report, page)})


def _offset_page(request: Request, rows: list[dict[str, Any]], wanted: PageRequest) -> JSON:
    """An offset page (`startAt`, like the documented token) of rows already filtered."""
    start = wanted.position or 0
    meta: dict[str, Any] = {"pagination": {}}
    if start + wanted.limit < len(rows):
        meta["pagination"]["next_link"] = wanted.next_link(
            request, start + wanted.limit, **wanted.extra
        )
    return JSON({"meta": meta, "results": rows[start : start + wanted.limit]})


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


def v2_summary(stats: dict[str, int], spam_count: bool = True) -> dict[str, int]:
    """v2's summary fields from v3-style counts; without `spam_count` as CC's SDK fixtures
    show some."""
    summary = {
        "sends": stats["em_sends"],
        "opens": stats["em_opens"],
        "clicks": stats["em_clicks"],
        "forwards": stats["em_forwards"],
        "unsubscribes": stats["em_optouts"],
        "bounces": stats["em_bounces"],
        "spam_count": stats["em_abuse"],
    }
    if not spam_count:
        del summary["spam_count"]
    return summary


async def campaign_summary(request: Request) -> JSON:
    service = service_of(request)
    campaign = service.account.campaign_by_v2_id.get(request.path_params["campaign_id"])
    if campaign is None:
        return not_found("Campaign not found.")
    update = request.query_params.get("updateSummary", "false").lower() == "true"
    as_of = service.clock.epoch() if update else service.stats_time()
    stats = activity_stats(service.events(campaign.primary), as_of)
    return JSON(v2_summary(stats, spam_count=service.config.v2_records == "documented"))


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
    return JSON({**v2_summary(totals), "contact_id": str(contact + 1)})


def _contact_rows(
    request: Request, contact: int, reports: tuple[str, ...], since: int | None
) -> list[dict[str, Any]]:
    """One contact's events of `reports` across every campaign, newest first."""
    service = service_of(request)
    rows = [
        row
        for campaign in service.account.campaigns
        for report in reports
        for row in _rows(
            request,
            campaign.primary,
            report,
            _filtered(request, campaign.primary, report, contact, since),
        )
    ]
    rows.sort(key=lambda row: (row[DATE_OF_TYPE[row["activity_type"]]], row["campaign_id"]))
    rows.reverse()
    return rows


async def contact_tracking(request: Request) -> JSON:
    """One contact's events of one kind (`/tracking/opens`...) or of every kind (`/tracking`)
    across every campaign, newest first, paginated by `next_link`."""
    report = request.path_params.get("report")
    contact = _contact_of(request)
    if contact is None or (report is not None and report not in V2_REPORTS):
        return not_found("Contact not found.")
    reports = tuple(V2_REPORTS) if report is None else (report,)
    try:
        wanted = PageRequest.of(request, default=500, high=500)
        rows = _contact_rows(request, contact, reports, wanted.since)
    except QueryError as exc:
        return bad_request(str(exc))
    except BadCursorError:
        return bad_request("The next link is not valid.")
    return _offset_page(request, rows, wanted)


def _v2_status(campaign: Campaign, epoch: int) -> str | None:
    return V2_STATUS_OF.get(campaign.primary.status_at(epoch))


def _campaign_item(campaign: Campaign, epoch: int) -> dict[str, Any]:
    return {
        "id": campaign.v2_id,
        "name": campaign.name,
        "status": _v2_status(campaign, epoch),
        "modified_date": SandboxService.iso(int(campaign.updated_at_as_of(epoch).timestamp())),
    }


async def list_campaigns(request: Request) -> JSON:
    """`GET /v2/emailmarketing/campaigns`: `status` (default ALL), `modified_since` (on or
    after), `limit` 1-50 (default 50), newest modification first."""
    service = service_of(request)
    epoch = service.clock.epoch()
    try:
        wanted = PageRequest.of(request, default=50, high=50)
        status = wanted.extra.get("status") or request.query_params.get("status", "ALL")
        if status not in CAMPAIGN_LIST_STATUSES:
            raise QueryError(f"status must be one of {', '.join(CAMPAIGN_LIST_STATUSES)}.")
        modified = wanted.extra.get("m") or request.query_params.get("modified_since")
        since = _epoch_param(modified, "modified_since")
    except QueryError as exc:
        return bad_request(str(exc))
    except BadCursorError:
        return bad_request("The next link is not valid.")
    items = [
        _campaign_item(c, epoch)
        for c in service.account.campaigns
        if c.created_at.timestamp() <= epoch
        and _v2_status(c, epoch) is not None
        and (status == "ALL" or _v2_status(c, epoch) == status)
        and (since is None or c.updated_at_as_of(epoch).timestamp() >= since)
    ]
    items.sort(key=lambda item: (item["modified_date"], item["id"]), reverse=True)
    extra = {"status": status} | ({"m": modified} if modified else {})
    return _offset_page(request, items, PageRequest(wanted.limit, None, wanted.position, extra))


async def get_campaign(request: Request) -> JSON:
    """`GET /v2/emailmarketing/campaigns/{id}`: the campaign with its tracked links (its last
    change as `last_edit_date` instead of `modified_date` with `v2_records=sdk_fixtures`)."""
    service = service_of(request)
    campaign = service.account.campaign_by_v2_id.get(request.path_params["campaign_id"])
    epoch = service.clock.epoch()
    if campaign is None or _v2_status(campaign, epoch) is None:
        return not_found("Campaign not found.")
    activity = campaign.primary
    events = service.events(activity)
    clicks = events.clicks.as_of(epoch)
    body = _campaign_item(campaign, epoch)
    if service.config.v2_records == "sdk_fixtures":  # as CC's PHP SDK fixture of a campaign
        body["last_edit_date"] = body.pop("modified_date")
    body |= {
        "subject": activity.subject,
        "from_name": activity.from_name,
        "from_email": activity.from_email,
        "reply_to_email": activity.reply_to_email,
        "created_date": SandboxService.iso(int(campaign.created_at.timestamp())),
        "click_through_details": [
            {
                "url": link_url(activity, link),
                "url_uid": url_id(activity, link),
                "click_count": int((clicks.extra == link).sum()),
            }
            for link in range(events.links)
        ],
    }
    if activity.send_at is not None and activity.send_at.timestamp() <= epoch:
        body["last_run_date"] = SandboxService.iso(int(activity.send_at.timestamp()))
    return JSON(body)


routes = [
    Route("/v2/emailmarketing/campaigns", list_campaigns),
    Route("/v2/emailmarketing/campaigns/{campaign_id}", get_campaign),
    Route("/v2/emailmarketing/campaigns/{campaign_id}/tracking/reports/summary", campaign_summary),
    Route("/v2/emailmarketing/campaigns/{campaign_id}/tracking/{report}", campaign_tracking),
    Route("/v2/contacts/{contact_id}/tracking/reports/summary", contact_summary),
    Route("/v2/contacts/{contact_id}/tracking", contact_tracking),
    Route("/v2/contacts/{contact_id}/tracking/{report}", contact_tracking),
]
