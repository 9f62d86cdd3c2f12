"""v3 email reporting routes: tracking reports, links, stats and the bulk summaries."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import numpy as np
import orjson
from starlette.requests import Request
from starlette.routing import Route

from cc_assets.constant_contact.schemas import TRACKING_REPORTS
from cc_assets.sandbox.account import Activity, Campaign
from cc_assets.sandbox.events import BOUNCE_CODES, EventColumns
from cc_assets.sandbox.limits import ACCOUNT_KEY
from cc_assets.sandbox.pagination import BadCursorError, decode_cursor, encode_cursor
from cc_assets.sandbox.render import link_url, url_id
from cc_assets.sandbox.responses import JSON, bad_request, error_array, not_found
from cc_assets.sandbox.service import SandboxService
from cc_assets.sandbox.stats import activity_stats, campaign_stats, dotted, percents

UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
LINKS_REQUIRED = ("optouts", "bounces")  # the spec lists `_links` as required on these two


class QueryError(ValueError):
    """A query parameter CC would refuse with a 400 error array."""


def service_of(request: Request) -> SandboxService:
    """The data of the account the request's bearer token belongs to (`rules.ReadCaller`)."""
    return request.app.state.services[request.scope[ACCOUNT_KEY]]


def next_link(request: Request, query: str) -> dict[str, Any]:
    """`_links` to the next page of this path: relative (`/v3/...`) as most of CC's documents
    show it, or absolute as its opens-report example does."""
    href = f"{request.url.path}?{query}"
    if service_of(request).config.next_href == "absolute":
        href = f"{request.url.scheme}://{request.url.netloc}{href}"
    return {"next": {"href": href}}


def parse_limit(request: Request, *, default: int, low: int, high: int) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise QueryError(f"limit must be an integer between {low} and {high}.") from None
    if not low <= value <= high:
        raise QueryError(f"limit must be between {low} and {high}; {value} is not.")
    return value


def page_after(
    columns: EventColumns, cursor: str | None, limit: int
) -> tuple[EventColumns, int | None]:
    """The page after the cursor's key, and the key to continue from (None on the last page)."""
    start = 0
    if cursor is not None:
        try:
            last_key = int(decode_cursor(cursor)["k"])
        except (KeyError, ValueError):  # a well-formed cursor of another report or route
            raise BadCursorError(cursor) from None
        start = columns.count_newer(last_key - 1)
    page = columns.slice(start, start + limit)
    more = start + limit < len(columns)
    return page, (int(page.key[-1]) if more and len(page) else None)


def reported_activity(request: Request) -> Activity | JSON:
    activity_id = request.path_params["activity_id"]
    activity = service_of(request).account.activity_by_id.get(activity_id)
    if activity is None:
        return not_found(f"Campaign activity {activity_id} was not found.")
    if not activity.reported:
        return not_found("Reports exist only for primary_email and resend campaign activities.")
    return activity


async def tracking_report(request: Request) -> JSON:
    report = request.path_params["report"]
    if report not in TRACKING_REPORTS:
        return not_found()
    activity = reported_activity(request)
    if isinstance(activity, JSON):
        return activity
    service = service_of(request)
    params = request.query_params
    try:
        limit = parse_limit(request, default=500, low=1, high=500)
        columns = service.report(activity, report)
        columns, extra_query = _filtered(activity, report, columns, request)
        page, next_key = page_after(columns, params.get("next"), limit)
    except QueryError as exc:
        return bad_request(str(exc))
    except BadCursorError:
        return bad_request("The next cursor is not valid.", key="query.param.next.invalid")
    links: dict[str, Any] | None = None
    if next_key is not None:
        query = urlencode(
            {**extra_query, "limit": limit, "next": encode_cursor(k=next_key, limit=limit)}
        )
        links = next_link(request, query)
    elif report in LINKS_REQUIRED:
        links = {}
    rows = service.renderer.page(activity, report, page)
    tail = b"}" if links is None else b',"_links":' + orjson.dumps(links) + b"}"
    return JSON(b'{"tracking_activities":' + rows + tail)


def _filtered(
    activity: Activity, report: str, columns: EventColumns, request: Request
) -> tuple[EventColumns, dict[str, Any]]:
    """The clicks report's `url_id` and the bounces report's repeatable `bounce_code` filters."""
    if report == "clicks" and "url_id" in request.query_params:
        raw = request.query_params["url_id"]
        try:
            wanted = int(raw)
        except ValueError:
            raise QueryError("url_id must be an integer.") from None
        keep = np.array(
            [int(url_id(activity, link)) == wanted for link in columns.extra.tolist()], dtype=bool
        )
        return columns.where(keep), {"url_id": raw}
    if report == "bounces" and "bounce_code" in request.query_params:
        codes = request.query_params.getlist("bounce_code")
        if any(code not in BOUNCE_CODES for code in codes):
            raise QueryError("bounce_code must be one of B, D, F, S, V, X, Z.")
        wanted_idx = [BOUNCE_CODES.index(code) for code in codes]
        return columns.where(np.isin(columns.extra, wanted_idx)), {}
    return columns, {}


async def links_report(request: Request) -> JSON:
    activity = reported_activity(request)
    if isinstance(activity, JSON):
        return activity
    service = service_of(request)
    no_clicks = request.query_params.get("no_clicks", "false").lower()
    if no_clicks not in {"true", "false"}:
        return bad_request("no_clicks must be true or false.")
    events = service.events(activity)
    clicks = events.clicks.as_of(service.clock.epoch())
    counts = []
    for link in range(events.links):
        unique = len(np.unique(clicks.contact[clicks.extra == link]))
        if unique or no_clicks == "true":
            counts.append(
                {
                    "link_url": link_url(activity, link),
                    "url_id": url_id(activity, link),
                    "unique_clicks": unique,
                }
            )
    return JSON({"campaign_activity_id": activity.activity_id, "link_click_counts": counts})


def _has_stats(activity: Activity, epoch: int) -> bool:
    return activity.reported and activity.status_at(epoch) == "DONE"


def _activity_stats_body(service: SandboxService, activity: Activity) -> dict[str, Any]:
    stats = activity_stats(service.events(activity), service.stats_time())
    if service.config.activity_stats_keys == "dotted":
        stats = {dotted(key): value for key, value in stats.items()}
    return {
        "campaign_id": activity.campaign_id,
        "campaign_activity_id": activity.activity_id,
        # not in the spec; the docs' example carries it (the campaign's type code, e.g. 10)
        "campaign_activity_type": service.account.campaign_by_id[activity.campaign_id].type_code,
        "stats": stats,
        "last_refresh_time": service.iso(service.stats_time()),
    }


async def activity_stats_report(request: Request) -> JSON:
    ids = request.path_params["ids"].split(",")
    if len(ids) > 10:
        return bad_request("Specify one to ten campaign_activity_ids.", key="path.param.invalid")
    if any(not UUID_RE.match(i) for i in ids):
        return error_array(
            404,
            "reportingsvc.not_found.invalid_path_param.campaign_activity_ids",
            "One or more campaign_activity_ids is not in a valid format.",
        )
    service = service_of(request)
    epoch = service.clock.epoch()
    results, errors = [], []
    for activity_id in ids:
        activity = service.account.activity_by_id.get(activity_id)
        if activity is None or not _has_stats(activity, epoch):
            errors.append(
                {
                    "error_key": "reportingsvc.not_found.campaign_activity_ids",
                    "error_message": f"Could not find stats for campaign activity {activity_id}.",
                }
            )
        else:
            results.append(_activity_stats_body(service, activity))
    body: dict[str, Any] = {"results": results}
    if errors:
        body["errors"] = errors
    return JSON(body)


def campaign_stats_of(service: SandboxService, campaign: Campaign) -> dict[str, int] | None:
    epoch = service.clock.epoch()
    done = [a for a in campaign.activities if _has_stats(a, epoch)]
    if not done:
        return None
    as_of = service.stats_time()
    return campaign_stats([activity_stats(service.events(a), as_of) for a in done])


async def campaign_stats_report(request: Request) -> JSON:
    ids = request.path_params["ids"].split(",")
    service = service_of(request)
    results = []
    for campaign_id in ids:
        campaign = service.account.campaign_by_id.get(campaign_id)
        stats = None if campaign is None else campaign_stats_of(service, campaign)
        if stats is None:  # one invalid id fails the whole call
            return error_array(
                404,
                "reportingsvc.not_found.invalid_path_param.campaign_ids.",
                "Could not find any campaign stats for all requested campaigns.",
            )
        results.append(
            {
                "campaign_id": campaign_id,
                "stats": stats,
                "percents": percents(stats),
                "last_refresh_time": service.iso(service.stats_time()),
            }
        )
    return JSON({"results": results})


SUMMARY_KEYS = {
    "sends": "em_sends",
    "opens": "em_opens",
    "clicks": "em_clicks",
    "forwards": "em_forwards",
    "optouts": "em_optouts",
    "bounces": "em_bounces",
    "not_opened": "em_not_opened",
}


async def campaign_summaries(request: Request) -> JSON:
    service = service_of(request)
    try:
        limit = parse_limit(request, default=50, low=1, high=500)
        offset = (
            int(decode_cursor(request.query_params["next"])["o"])
            if "next" in request.query_params
            else 0
        )
    except QueryError as exc:
        return bad_request(str(exc))
    except (BadCursorError, KeyError, ValueError):
        return bad_request("The next cursor is not valid.", key="query.param.next.invalid")
    epoch = service.clock.epoch()
    sent = []
    for campaign in service.account.campaigns:
        stats = campaign_stats_of(service, campaign)
        if stats is None:
            continue
        last_sent = max(
            a.send_at.timestamp() for a in campaign.activities if a.send_at and _has_stats(a, epoch)
        )
        sent.append((int(last_sent), campaign, stats))
    sent.sort(key=lambda item: (item[0], item[1].campaign_id), reverse=True)
    page = sent[offset : offset + limit]
    as_string = service.config.summary_counts == "string"
    rows = []
    for last_sent, campaign, stats in page:
        counts: dict[str, Any] = {name: stats[key] for name, key in SUMMARY_KEYS.items()}
        counts["abuse"] = 0
        rows.append(
            {
                "campaign_id": campaign.campaign_id,
                "campaign_type": campaign.type.title(),
                "last_sent_date": service.iso(last_sent),
                "unique_counts": {k: str(v) for k, v in counts.items()} if as_string else counts,
            }
        )
    totals = {key: sum(s[key] for _, _, s in page) for key in SUMMARY_KEYS.values()}
    body: dict[str, Any] = {"bulk_email_campaign_summaries": rows}
    if page:
        aggregate = percents({**_zero_devices(), **totals})
        agg = {k: aggregate[k] for k in ("click", "open", "did_not_open", "bounce", "unsubscribe")}
        if as_string:
            body["aggregate_percents"] = [{k: f"{v:.1f}" for k, v in agg.items()}]
        elif service.config.summary_counts == "integer":
            body["aggregate_percents"] = {k: round(v) for k, v in agg.items()}
        else:
            body["aggregate_percents"] = agg
    if offset + limit < len(sent):
        query = urlencode({"next": encode_cursor(limit=limit, o=offset + limit)})
        body["_links"] = next_link(request, query)
    return JSON(body)


def _zero_devices() -> dict[str, int]:
    keys = ("computer", "mobile", "tablet", "other", "none")
    zeros = {f"em_opens_all_{k}": 0 for k in keys} | {f"em_clicks_all_{k}": 0 for k in keys}
    return zeros | {"em_opens_all": 0, "em_clicks_all": 0}


routes = [
    Route("/v3/reports/email_reports/{activity_id}/tracking/{report}", tracking_report),
    Route("/v3/reports/email_reports/{activity_id}/links", links_report),
    Route("/v3/reports/stats/email_campaign_activities/{ids}", activity_stats_report),
    Route("/v3/reports/stats/email_campaigns/{ids}", campaign_stats_report),
    Route("/v3/reports/summary_reports/email_campaign_summaries", campaign_summaries),
]
