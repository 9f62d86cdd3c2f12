"""One fixed Arrow schema per report: the contract between the API client, the lake and dbt.

These are facts of the API (report names, fields, stats keys and their types), so they live with
the client; the lake and everything above it import them from here, never the other way round.
Column names are the API's own field names. Nested objects are flattened with the
parent's name as a prefix only where a leaf name alone would be ambiguous (`percents_open`);
stats keys use the underscore spelling whatever the API sent (`em_opens_all_mobile`). Every row
carries `captured_at`, and the partition column (`snapshot_date` or `campaign_activity_id`) is a
real column too, so a file read on its own is still complete.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

TIMESTAMP = pa.timestamp("ms", tz="UTC")

SNAPSHOT_DATE = "snapshot_date"
CAMPAIGN_ACTIVITY_ID = "campaign_activity_id"

# --- stats keys --------------------------------------------------------------------------------
CAMPAIGN_STATS_KEYS: tuple[str, ...] = (
    "em_bounces",
    "em_clicks",
    "em_clicks_all",
    "em_clicks_all_computer",
    "em_clicks_all_mobile",
    "em_clicks_all_tablet",
    "em_clicks_all_other",
    "em_clicks_all_none",
    "em_forwards",
    "em_not_opened",
    "em_opens",
    "em_opens_all",
    "em_opens_all_computer",
    "em_opens_all_mobile",
    "em_opens_all_tablet",
    "em_opens_all_other",
    "em_opens_all_none",
    "em_optouts",
    "em_sends",
)
"""`stats` keys of `/reports/stats/email_campaigns/{ids}` (spec `StatsEmail`)."""

ACTIVITY_STATS_KEYS: tuple[str, ...] = (
    *CAMPAIGN_STATS_KEYS,
    "em_abuse",
    "em_bounces_blocked",
    "em_bounces_mailbox_full",
    "em_bounces_nonexistent_address",
    "em_bounces_other",
    "em_bounces_suspended",
    "em_bounces_undeliverable",
    "em_bounces_vacation",
)
"""`stats` keys of `/reports/stats/email_campaign_activities/{ids}` (spec `StatsEmailActivity`)."""

PERCENT_KEYS: tuple[str, ...] = (
    "bounce",
    "click",
    "desktop_click",
    "desktop_open",
    "did_not_open",
    "mobile_click",
    "mobile_open",
    "open",
    "unsubscribe",
)
"""`percents` keys of the campaign stats (spec `PercentsEmail`), stored as `percents_<key>`."""

SUMMARY_COUNT_KEYS: tuple[str, ...] = (
    "sends",
    "opens",
    "clicks",
    "forwards",
    "optouts",
    "abuse",
    "bounces",
    "not_opened",
)
"""`unique_counts` keys of the bulk campaign summaries."""

SUMMARY_PERCENT_KEYS: tuple[str, ...] = ("click", "open", "did_not_open", "bounce", "unsubscribe")
"""`aggregate_percents` keys of the bulk campaign summaries (per page, stored per row)."""

TRACKING_REPORTS: tuple[str, ...] = (
    "sends",
    "opens",
    "unique_opens",
    "didnotopens",
    "clicks",
    "forwards",
    "optouts",
    "bounces",
)
"""The eight `/reports/email_reports/{id}/tracking/{report}` reports, by their path segment."""


@dataclass(frozen=True)
class AssetTable:
    """What the lake needs to know about one asset's files, and what the table holds in a
    sentence (`description`, the dbt source table's)."""

    name: str
    schema: pa.Schema
    partition_column: str | None
    natural_key: tuple[str, ...]
    description: str = ""


def _fields(*pairs: tuple[str, pa.DataType]) -> list[pa.Field]:
    return [pa.field(name, dtype) for name, dtype in pairs]


_CONTACT_FIELDS = _fields(
    ("campaign_activity_id", pa.string()),
    ("contact_id", pa.string()),
    ("tracking_activity_type", pa.string()),
    ("email_address", pa.string()),
    ("first_name", pa.string()),
    ("last_name", pa.string()),
    ("created_time", TIMESTAMP),
    ("deleted_at", pa.date32()),
)
_CAPTURED = _fields(("captured_at", TIMESTAMP))

_TRACKING_EXTRA: dict[str, list[pa.Field]] = {
    "sends": [],
    "opens": _fields(("device_type", pa.string())),
    "unique_opens": _fields(("device_type", pa.string())),
    "didnotopens": [],
    "clicks": _fields(
        ("url_id", pa.string()), ("link_url", pa.string()), ("device_type", pa.string())
    ),
    "forwards": [],
    "optouts": _fields(("opt_out_reason", pa.string())),
    "bounces": _fields(("bounce_code", pa.string()), ("current_email_address", pa.string())),
}

TRACKING_NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "sends": ("campaign_activity_id", "contact_id"),
    "opens": ("campaign_activity_id", "contact_id", "created_time", "device_type"),
    "unique_opens": ("campaign_activity_id", "contact_id"),
    "didnotopens": ("campaign_activity_id", "contact_id"),
    "clicks": ("campaign_activity_id", "contact_id", "created_time", "url_id"),
    "forwards": ("campaign_activity_id", "contact_id", "created_time"),
    "optouts": ("campaign_activity_id", "contact_id"),
    "bounces": ("campaign_activity_id", "contact_id"),
}
"""What makes one tracking row one event. The API has no event id; these are the fields that
tell two events apart (a contact is sent an activity once, bounces once, opts out once)."""


TRACKING_TABLE_DESCRIPTIONS: dict[str, str] = {
    "sends": "Every contact each activity was sent to.",
    "opens": "Every open (repeat opens included) with the device.",
    "unique_opens": "Each contact's most recent open of each activity.",
    "didnotopens": "Contacts who received an activity and have not opened it.",
    "clicks": "Every click on every link, with the device.",
    "forwards": "Every forward to a friend.",
    "optouts": "Every opt-out through an activity.",
    "bounces": "Every bounce with its code.",
}


def tracking_asset_name(report: str) -> str:
    """`opens` -> `email_opens`: the asset (and lake folder) holding one tracking report."""
    return f"email_{report}"


def _tracking_table(report: str) -> AssetTable:
    return AssetTable(
        name=tracking_asset_name(report),
        schema=pa.schema(_CONTACT_FIELDS + _TRACKING_EXTRA[report] + _CAPTURED),
        partition_column=CAMPAIGN_ACTIVITY_ID,
        natural_key=TRACKING_NATURAL_KEYS[report],
        description=TRACKING_TABLE_DESCRIPTIONS[report],
    )


_SNAPSHOT = _fields((SNAPSHOT_DATE, pa.date32()), ("captured_at", TIMESTAMP))

EMAIL_CAMPAIGNS = AssetTable(
    name="email_campaigns",
    schema=pa.schema(
        _SNAPSHOT
        + _fields(
            ("campaign_id", pa.string()),
            ("name", pa.string()),
            ("current_status", pa.string()),
            ("type", pa.string()),
            ("type_code", pa.int32()),
            ("created_at", TIMESTAMP),
            ("updated_at", TIMESTAMP),
            ("campaign_activity_id", pa.string()),
            ("role", pa.string()),
            ("activity_status", pa.string()),
            ("subject", pa.string()),
            ("from_name", pa.string()),
            ("from_email", pa.string()),
            ("reply_to_email", pa.string()),
            ("sent_time", TIMESTAMP),
        )
    ),
    partition_column=SNAPSHOT_DATE,
    natural_key=(SNAPSHOT_DATE, "campaign_id", "campaign_activity_id"),
    description="Daily snapshots of every campaign x activity.",
)
"""Campaigns x activities. `activity_status` is the activity's `current_status` (upper case);
`current_status` is the campaign's, as the campaign detail sent it: title case in the spec
(`Done`), upper case in recordings of the live API (`DONE`); staging normalizes it to title
case. `sent_time` is the last completed send. Activities of roles without reports (`permalink`)
are rows too, with their activity fields null: the snapshot spends no call on them."""

EMAIL_CAMPAIGN_SUMMARIES = AssetTable(
    name="email_campaign_summaries",
    schema=pa.schema(
        _SNAPSHOT
        + _fields(
            ("campaign_id", pa.string()),
            ("campaign_type", pa.string()),
            ("last_sent_date", TIMESTAMP),
        )
        + _fields(*((key, pa.int64()) for key in SUMMARY_COUNT_KEYS))
        + _fields(*((f"aggregate_percents_{key}", pa.float64()) for key in SUMMARY_PERCENT_KEYS))
    ),
    partition_column=SNAPSHOT_DATE,
    natural_key=(SNAPSHOT_DATE, "campaign_id"),
    description="Daily snapshots of the bulk campaign summaries.",
)

EMAIL_CAMPAIGN_STATS = AssetTable(
    name="email_campaign_stats",
    schema=pa.schema(
        _SNAPSHOT
        + _fields(("campaign_id", pa.string()), ("last_refresh_time", TIMESTAMP))
        + _fields(*((key, pa.int64()) for key in CAMPAIGN_STATS_KEYS))
        + _fields(*((f"percents_{key}", pa.float64()) for key in PERCENT_KEYS))
    ),
    partition_column=SNAPSHOT_DATE,
    natural_key=(SNAPSHOT_DATE, "campaign_id"),
    description="Daily snapshots of Constant Contact's campaign stats and percents.",
)

EMAIL_CAMPAIGN_ACTIVITY_STATS = AssetTable(
    name="email_campaign_activity_stats",
    schema=pa.schema(
        _SNAPSHOT
        + _fields(
            ("campaign_id", pa.string()),
            ("campaign_activity_id", pa.string()),
            ("last_refresh_time", TIMESTAMP),
            ("campaign_activity_type", pa.int32()),
        )
        + _fields(*((key, pa.int64()) for key in ACTIVITY_STATS_KEYS))
    ),
    partition_column=SNAPSHOT_DATE,
    natural_key=(SNAPSHOT_DATE, "campaign_activity_id"),
    description="Daily snapshots of Constant Contact's per-activity stats.",
)
"""`campaign_activity_type` is a result field the spec does not define and the docs' example
carries (an integer, e.g. 10); null when the API does not send it."""

EMAIL_LINKS = AssetTable(
    name="email_links",
    schema=pa.schema(
        _fields(
            ("campaign_activity_id", pa.string()),
            ("url_id", pa.string()),
            ("link_url", pa.string()),
            ("unique_clicks", pa.int64()),
            ("list_action", pa.string()),
            ("list_id", pa.string()),
            ("link_tag", pa.string()),
        )
        + _CAPTURED
    ),
    partition_column=CAMPAIGN_ACTIVITY_ID,
    natural_key=("campaign_activity_id", "url_id"),
    description="Every link of each activity with its unique clicks.",
)

CONTACT_ACTIVITY_DETAILS = AssetTable(
    name="contact_activity_details",
    schema=pa.schema(
        _SNAPSHOT
        + _fields(
            ("contact_id", pa.string()),
            ("campaign_activity_id", pa.string()),
            ("tracking_activity_type", pa.string()),
            ("created_time", TIMESTAMP),
            ("campaign_activity_name", pa.string()),
        )
    ),
    partition_column=SNAPSHOT_DATE,
    natural_key=(
        SNAPSHOT_DATE,
        "contact_id",
        "campaign_activity_id",
        "tracking_activity_type",
        "created_time",
    ),
    description=(
        "Daily snapshots of the activity of recently active contacts (landing pages included)."
    ),
)

ACCOUNT_SUMMARY = AssetTable(
    name="account_summary",
    schema=pa.schema(
        _SNAPSHOT
        + _fields(
            ("account", pa.string()),
            ("encoded_account_id", pa.string()),
            ("organization_name", pa.string()),
        )
    ),
    partition_column=SNAPSHOT_DATE,
    natural_key=(SNAPSHOT_DATE, "account"),
    description="Daily snapshots of whose Constant Contact account the credentials read.",
)
"""One row per account and day: its name in cc_assets (`default` without an accounts file) and
what `GET /account/summary` names it. A v2 account has no such call: both identity fields null."""

TRACKING_TABLES: dict[str, AssetTable] = {
    report: _tracking_table(report) for report in TRACKING_REPORTS
}

RAW_TABLES: dict[str, AssetTable] = {
    table.name: table
    for table in (
        EMAIL_CAMPAIGNS,
        EMAIL_CAMPAIGN_SUMMARIES,
        EMAIL_CAMPAIGN_STATS,
        EMAIL_CAMPAIGN_ACTIVITY_STATS,
        *TRACKING_TABLES.values(),
        EMAIL_LINKS,
        CONTACT_ACTIVITY_DETAILS,
        ACCOUNT_SUMMARY,
    )
}
"""Every raw asset's table, by asset name (the second part of its key)."""

UNSENT_IS_NULL = "null when the API did not send it (a v2 summary without spam_count), never 0."

RAW_COLUMN_DESCRIPTIONS: dict[str, str] = {
    SNAPSHOT_DATE: "The UTC date of the daily snapshot.",
    "captured_at": "When cc_assets captured the row from the API (UTC).",
    "campaign_id": "The campaign, a UUID.",
    CAMPAIGN_ACTIVITY_ID: (
        "The campaign activity (one send of a campaign: primary email or resend), a UUID."
    ),
    # email_campaigns
    "name": "The campaign's name.",
    "current_status": (
        "The campaign's status as the API sent it: title case in the spec (Done), upper case in "
        "the live API's campaign detail (DONE); staging gives it in title case."
    ),
    "type": "The campaign type name (e.g. NEWSLETTER).",
    "type_code": "The campaign type code.",
    "created_at": "When the campaign was created.",
    "updated_at": "When the campaign was last updated.",
    "role": "The activity's role: primary_email, resend, permalink, ...",
    "activity_status": (
        "The activity's status (upper case, e.g. DONE, DRAFT); null for roles without reports "
        "(permalink), which the snapshot does not read."
    ),
    "subject": "The email subject line.",
    "from_name": "The sender name.",
    "from_email": "The sender address.",
    "reply_to_email": "The reply-to address.",
    "sent_time": "When the activity was last sent.",
    # email_campaign_summaries
    "campaign_type": "The campaign type label of the summary report.",
    "last_sent_date": "When the campaign was last sent.",
    **{key: f"Unique `{key}` count of the campaign summary." for key in SUMMARY_COUNT_KEYS},
    "abuse": f"Unique `abuse` count of the campaign summary; {UNSENT_IS_NULL}",
    **{
        f"aggregate_percents_{key}": (
            f"Constant Contact's `{key}` percent for the campaigns on the summary page."
        )
        for key in SUMMARY_PERCENT_KEYS
    },
    # email_campaign_stats, email_campaign_activity_stats
    "last_refresh_time": "When Constant Contact last refreshed these stats (they lag the events).",
    **{
        key: (
            f"Constant Contact's stats counter `{key}` (unique counts; `*_all*` count every event)."
        )
        for key in ACTIVITY_STATS_KEYS
    },
    "em_abuse": (
        "Constant Contact's stats counter `em_abuse` (unique counts; `*_all*` count every "
        f"event); {UNSENT_IS_NULL}"
    ),
    "campaign_activity_type": (
        "The result's `campaign_activity_type`, an integer (e.g. 10) the docs' example carries "
        "and the spec does not define; null when not sent."
    ),
    **{
        f"percents_{key}": f"Constant Contact's own `{key}` percent (0-100) for the campaign."
        for key in PERCENT_KEYS
    },
    # the tracking reports, contact_activity_details
    "contact_id": "The contact, a UUID.",
    "tracking_activity_type": (
        "Constant Contact's event type code (em_sends, em_opens, em_clicks, ...)."
    ),
    "email_address": "The contact's email address when the event happened.",
    "first_name": "The contact's first name, if known.",
    "last_name": "The contact's last name, if known.",
    "created_time": (
        "When the event happened (UTC). For did-not-opens: when the activity was sent to the "
        "contact."
    ),
    "deleted_at": "The date the contact was deleted, if deleted.",
    "device_type": (
        "Device of the open or click: computer, mobile, tablet, other; none when not captured."
    ),
    "opt_out_reason": "The reason the contact gave for opting out, if any.",
    "bounce_code": (
        "Bounce code: B non-existent, D undeliverable, F mailbox full, S suspended, V vacation, "
        "X other, Z blocked."
    ),
    "current_email_address": "The contact's current address if it changed after the bounce.",
    "campaign_activity_name": "The activity's name.",
    # email_clicks, email_links
    "url_id": "The tracked link's id (a string).",
    "link_url": "The tracked link's URL.",
    "unique_clicks": "Distinct contacts who clicked the link.",
    "list_action": "List action attached to the link (add).",
    "list_id": "The list the link adds contacts to, if any.",
    "link_tag": "The link's tag (not currently provided by the API).",
    # account_summary
    "account": (
        "The account's name in cc_assets: its name in the accounts file (CC_ASSETS_ACCOUNTS), "
        "default for the one account of the CONSTANT_CONTACT_* variables."
    ),
    "encoded_account_id": (
        "Constant Contact's id of the account (GET /account/summary); null for a v2 account."
    ),
    "organization_name": (
        "The account's organization name (GET /account/summary); null for a v2 account or when "
        "not set."
    ),
}
"""What each raw column holds, by name: a name means one thing in every raw table. The one
place a raw column is described; the dbt sources' YAML is generated from it and the schemas
(`python -m cc_assets.defs.analytics.sources`)."""
