"""The legacy v2 reports, over the v3 client's transport, mapped to the lake's v3 columns.

v2 needs two credentials on every call: the application's `api_key` as a query parameter and
the OAuth bearer token. `V2Reports.get` adds the key to `ConstantContactClient.get`, which
carries the token (with the shared request budget, the daily quota, token refresh and
retries), so this module only knows v2's paths, its pagination and its record fields.

Pagination follows `meta.pagination.next_link` the way the official SDKs do: only its `next`
token is kept and `api_key` is added again (`V2Reports.get` does that), so a link can neither
drop the key nor smuggle in parameters. A link to another report or host, or one without a
token, fails its report instead of being followed. CC's own SDK recordings link page 2 of
`/v2/emailmarketing/campaigns/...` as `/v2/emailcampaigns/...`: that alias names the same
report (same campaign id, same report, same origin) and is accepted as such; the next request
still goes to the documented path with the token alone.

The mapping to the lake is one table, `FIELDS`, plus the activity types: v2 field names become
the v3 column names, columns v2 has no field for stay null (`device_type`, `first_name`, ...).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pyarrow as pa

from cc_assets.constant_contact import parsing
from cc_assets.constant_contact.client import ConstantContactClient
from cc_assets.constant_contact.errors import ConstantContactError, ForeignLinkError
from cc_assets.constant_contact.schemas import CONTACT_ACTIVITY_DETAILS, TRACKING_TABLES

TRACKING_PAGE_LIMIT = 500
CAMPAIGN_PAGE_LIMIT = 50

V2_TRACKING: dict[str, tuple[str, str, str]] = {
    # v2 report -> (lake report, v2 activity_type, v2 date field)
    "sends": ("sends", "EMAIL_SEND", "send_date"),
    "opens": ("opens", "EMAIL_OPEN", "open_date"),
    "clicks": ("clicks", "EMAIL_CLICK", "click_date"),
    "forwards": ("forwards", "EMAIL_FORWARD", "forward_date"),
    "unsubscribes": ("optouts", "EMAIL_UNSUBSCRIBE", "unsubscribe_date"),
    "bounces": ("bounces", "EMAIL_BOUNCE", "bounce_date"),
}
"""The six v2 campaign tracking reports, in the order a refresh reads them."""

LAKE_REPORT_OF_TYPE = {activity_type: lake for lake, activity_type, _ in V2_TRACKING.values()}
DATE_FIELD_OF_TYPE = {activity_type: date for _, activity_type, date in V2_TRACKING.values()}
TRACKING_TYPE_OF_REPORT = {
    "sends": "em_sends",
    "opens": "em_opens",
    "clicks": "em_clicks",
    "forwards": "em_forwards",
    "optouts": "em_optouts",
    "bounces": "em_bounces",
}
"""v2 `activity_type` -> lake report -> the v3 `tracking_activity_type` the lake holds."""

ACTIVITY_STATUS_OF = {"SENT": "DONE", "RUNNING": "EXECUTING"}
"""v2 campaign status -> the v3 activity status the lake holds (DRAFT, SCHEDULED: the same).
A v2 campaign has one send and is its own activity: its id is also its activity id."""

FIELDS: dict[str, str] = {
    "campaign_id": "campaign_activity_id",
    "contact_id": "contact_id",
    "email_address": "email_address",
    "send_date": "created_time",
    "open_date": "created_time",
    "click_date": "created_time",
    "forward_date": "created_time",
    "unsubscribe_date": "created_time",
    "bounce_date": "created_time",
    "link_id": "url_id",
    "link_uri": "link_url",
    "unsubscribe_reason": "opt_out_reason",
    "bounce_code": "bounce_code",
}
"""v2 record field -> lake column (the README's mapping table is this one). `link_uri` is the
clicked URL of CC's SDK fixtures and Java click model (the docs show only `link_id`)."""

NOT_STORED = frozenset(
    {"activity_type", "bounce_description", "bounce_message", "unsubscribe_source"}
)
"""v2 fields with no v3 column: the type becomes `tracking_activity_type`; a bounce's
description follows from its code; the message and the unsubscribe source have no column."""

SUMMARY_FIELDS = ("sends", "opens", "clicks", "forwards", "unsubscribes", "bounces")
"""The v2 summary report's counts every body carries; `spam_count` may be absent."""
CAMPAIGN_FIELDS = frozenset(
    {
        "id", "name", "status", "modified_date", "last_edit_date", "created_date",
        "last_run_date", "subject", "from_name", "from_email", "reply_to_email",
        "click_through_details",
    }
)  # fmt: skip
"""The v2 campaign fields the lake holds (`email_campaigns`, `email_links`); any other is
reported as unknown."""
V2_CREDENTIALS_HINT = "check CONSTANT_CONTACT_API_KEY and CONSTANT_CONTACT_ACCESS_TOKEN"
"""What a v2 client's 401 says to check (`ConstantContactClient.credentials_hint`)."""
CAMPAIGNS_PATH, CAMPAIGNS_ALIAS = "emailmarketing/campaigns", "emailcampaigns"
"""The documented campaigns path and the alias CC's SDK recordings use in `next_link`."""


def iso(moment: datetime) -> str:
    """ISO-8601 in UTC with milliseconds, as v2 writes its own dates."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class V2Reports:
    """Typed v2 reports. Ids are v2's numeric strings; batches have the lake's v3 columns."""

    def __init__(self, client: ConstantContactClient) -> None:
        client.settings.require_v2_credentials()
        self.client = client

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """The transport's GET with the `api_key` every v2 call carries (last, as v2's SDKs
        send it; the client redacts it from any error text)."""
        return self.client.get(path, {**(params or {}), "api_key": self.client.settings.api_key})

    # --- pagination ---------------------------------------------------------------------------
    def iter_pages(self, path: str, params: Mapping[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """The `results` of every page, following `next_link` (its `next` token only)."""
        base = httpx.URL(self.client.settings.base_url)
        endpoint = f"{base.path.rstrip('/')}/{path}"
        query: Mapping[str, Any] = params
        seen: set[str] = set()
        while True:
            body = self.get(path, query)
            self.client.pages += 1
            if not isinstance(body, dict) or not isinstance(body.get("results"), list):
                raise ConstantContactError(endpoint, 200, "the page has no `results` list")
            self.client.unknown.note(f"/v2/{path}", body, ("meta", "results"))
            yield body["results"]
            token = _next_token(base, endpoint, body)
            if token is None:
                return
            if token in seen:
                raise ConstantContactError(endpoint, 200, "next_link repeats a page already read")
            seen.add(token)
            query = {"next": token}

    # --- campaigns ----------------------------------------------------------------------------
    def iter_sent_campaigns(
        self, modified_since: datetime | None = None
    ) -> Iterator[dict[str, Any]]:
        """Sent campaigns (`status=SENT`), changed on or after `modified_since` when given."""
        params: dict[str, Any] = {"status": "SENT", "limit": CAMPAIGN_PAGE_LIMIT}
        if modified_since is not None:
            params["modified_since"] = iso(modified_since)
        for results in self.iter_pages("emailmarketing/campaigns", params):
            for item in results:
                if not isinstance(item, dict) or not str(item.get("id") or "").isdigit():
                    raise ConstantContactError(
                        "/v2/emailmarketing/campaigns", 200, "a campaign has no numeric id"
                    )
                self.client.unknown.note("/v2/emailmarketing/campaigns", item, CAMPAIGN_FIELDS)
                yield item

    def get_campaign(self, campaign_id: str) -> dict[str, Any]:
        body = self.get(f"emailmarketing/campaigns/{campaign_id}")
        if not isinstance(body, dict) or str(body.get("id")) != campaign_id:
            raise ConstantContactError(
                f"/v2/emailmarketing/campaigns/{campaign_id}", 200, "not the campaign asked for"
            )
        self.client.unknown.note("/v2/emailmarketing/campaigns/{id}", body, CAMPAIGN_FIELDS)
        return body

    def get_summary(self, campaign_id: str) -> dict[str, int | None]:
        """The campaign summary report, updated now (`updateSummary=true`), as integers.
        `spam_count` is None when the body lacks it (both of CC's v2 SDK fixtures do): a
        count never received is unknown, not zero."""
        path = f"emailmarketing/campaigns/{campaign_id}/tracking/reports/summary"
        body = self.get(path, {"updateSummary": "true"})
        try:
            counts: dict[str, int | None] = {key: int(body[key]) for key in SUMMARY_FIELDS}
            counts["spam_count"] = parsing.to_int(body.get("spam_count"))
        except (KeyError, TypeError, ValueError):
            raise ConstantContactError(
                f"/v2/{path}", 200, f"the summary lacks one of {', '.join(SUMMARY_FIELDS)}"
            ) from None
        self.client.unknown.note("/v2/.../tracking/reports/summary", body, counts)
        return counts

    # --- tracking -----------------------------------------------------------------------------
    def iter_tracking(
        self, campaign_id: str, report: str, created_since: datetime | None = None
    ) -> Iterator[pa.RecordBatch]:
        """One v2 campaign tracking report (a `V2_TRACKING` key), a batch a page, in the lake
        columns of its report (`unsubscribes` -> `email_optouts`)."""
        lake_report = V2_TRACKING[report][0]
        schema = parsing.api_schema(TRACKING_TABLES[lake_report])
        path = f"emailmarketing/campaigns/{campaign_id}/tracking/{report}"
        params: dict[str, Any] = {"limit": TRACKING_PAGE_LIMIT}
        if created_since is not None:
            params["created_since"] = iso(created_since)
        for results in self.iter_pages(path, params):
            rows = [self._row(f"/v2/{path}", item, lake_report, campaign_id) for item in results]
            yield _batch(f"/v2/{path}", rows, schema)

    def iter_contact_tracking(
        self, contact_id: str, created_since: datetime | None = None
    ) -> Iterator[pa.RecordBatch]:
        """All of a contact's email activity across campaigns (`/contacts/{id}/tracking`), in
        the contact report's columns (no campaign name: v2 sends none)."""
        schema = parsing.api_schema(CONTACT_ACTIVITY_DETAILS)
        path = f"contacts/{contact_id}/tracking"
        params: dict[str, Any] = {"limit": TRACKING_PAGE_LIMIT}
        if created_since is not None:
            params["created_since"] = iso(created_since)
        for results in self.iter_pages(path, params):
            rows = []
            for item in results:
                kind = item.get("activity_type") if isinstance(item, dict) else None
                if kind not in LAKE_REPORT_OF_TYPE:
                    raise ConstantContactError(
                        f"/v2/{path}", 200, f"unknown activity_type {kind!r}"
                    )
                row = self._row(f"/v2/{path}", item, LAKE_REPORT_OF_TYPE[kind], None)
                if row["contact_id"] != contact_id:
                    raise ConstantContactError(f"/v2/{path}", 200, "a row of another contact")
                rows.append(row)
            yield _batch(f"/v2/{path}", rows, schema)

    def _row(
        self, endpoint: str, item: Any, lake_report: str, campaign_id: str | None
    ) -> dict[str, Any]:
        """One v2 record in lake columns; a record missing what identifies it fails the page."""
        if not isinstance(item, dict):
            raise ConstantContactError(endpoint, 200, "a result is not an object")
        date_field = DATE_FIELD_OF_TYPE.get(str(item.get("activity_type")))
        if date_field is None or LAKE_REPORT_OF_TYPE[item["activity_type"]] != lake_report:
            raise ConstantContactError(
                endpoint, 200, f"activity_type {item.get('activity_type')!r} in {lake_report}"
            )
        for required in ("contact_id", "campaign_id", date_field):
            if item.get(required) in (None, ""):
                raise ConstantContactError(endpoint, 200, f"a result has no {required}")
        if campaign_id is not None and str(item["campaign_id"]) != campaign_id:
            raise ConstantContactError(endpoint, 200, "a result of another campaign")
        self.client.unknown.note(f"v2 {lake_report}", item, set(FIELDS) | NOT_STORED)
        row = {FIELDS[k]: v for k, v in item.items() if k in FIELDS}
        row["contact_id"] = str(row["contact_id"])
        row["campaign_activity_id"] = str(row["campaign_activity_id"])
        if "url_id" in row:
            row["url_id"] = str(row["url_id"])
        row["tracking_activity_type"] = TRACKING_TYPE_OF_REPORT[lake_report]
        return row


def _next_token(base: httpx.URL, endpoint: str, body: dict[str, Any]) -> str | None:
    """The `next` token of a page's `next_link`, None on the last page. The link must point at
    the same report (its documented path or the SDK recordings' alias of it) on the API's own
    origin (the bearer token and key would go with it)."""
    pagination = (body.get("meta") or {}).get("pagination") or {}
    if not isinstance(pagination, dict):
        raise ConstantContactError(endpoint, 200, "meta.pagination is not an object")
    link = pagination.get("next_link")
    if link is None or link == "":
        return None
    if not isinstance(link, str):
        raise ConstantContactError(endpoint, 200, "next_link is not a string")
    parts = urlsplit(link)
    if (parts.scheme or parts.netloc) and (parts.scheme, parts.netloc) != (
        base.scheme,
        base.netloc.decode(),
    ):
        raise ForeignLinkError(parts.path, None, "a next_link to another host is not followed")
    if parts.path not in _same_report(base.path.rstrip("/"), endpoint):
        raise ForeignLinkError(parts.path, None, f"next_link leaves {endpoint}")
    tokens = parse_qs(parts.query).get("next", [])
    if len(tokens) != 1 or not tokens[0].strip():
        raise ConstantContactError(endpoint, 200, "next_link carries no `next` token")
    return tokens[0]


def _same_report(root: str, endpoint: str) -> tuple[str, ...]:
    """The paths a `next_link` of `endpoint` may name: itself, and for the campaigns path its
    `/v2/emailcampaigns` alias with the same campaign id and report."""
    documented = f"{root}/{CAMPAIGNS_PATH}"
    rest = endpoint.removeprefix(documented)
    if rest == endpoint or rest[:1] not in {"", "/"}:
        return (endpoint,)
    return (endpoint, f"{root}/{CAMPAIGNS_ALIAS}{rest}")


def _batch(endpoint: str, rows: list[dict[str, Any]], schema: pa.Schema) -> pa.RecordBatch:
    try:
        return parsing.batch(rows, schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        reason = str(exc).splitlines()[0][:200]
        message = f"a result has an unreadable value: {reason}"
        raise ConstantContactError(endpoint, 200, message) from None
