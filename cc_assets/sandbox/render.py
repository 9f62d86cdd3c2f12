"""Tracking rows as Constant Contact serves them, built from event columns a page at a time.

Optional fields are omitted rather than sent as null, like the documented examples. Contact
fields are cached per contact because the same contacts recur across reports and pages.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from cc_assets.sandbox.account import Account, Activity
from cc_assets.sandbox.events import BOUNCE_CODES as _BOUNCE_CODES
from cc_assets.sandbox.events import DEVICES, OPT_OUT_REASONS, REPORT_TYPES, UID_BITS, EventColumns


def timestamps(keys: np.ndarray) -> list[str]:
    """Composite keys -> CC's `2019-05-16T21:14:00.000Z`, vectorised."""
    seconds = (keys >> UID_BITS).astype("datetime64[s]")
    return [s + ".000Z" for s in np.datetime_as_string(seconds, unit="s").tolist()]


def link_url(activity: Activity, link: int) -> str:
    return f"https://example.com/{activity.campaign_id[:8]}/offer-{link}?utm=cc&lang=fr-é"


def url_id(activity: Activity, link: int) -> str:
    return str(1100407204171 + activity.index * 10 + link)


class RowRenderer:
    """Builds the JSON-ready rows of one account's tracking reports."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self.contact_fields = lru_cache(maxsize=65_536)(self._contact_fields)

    def _contact_fields(self, index: int) -> dict[str, Any]:
        contacts = self.account.contacts
        fields: dict[str, Any] = {"email_address": contacts.email_address(index)}
        first, last = contacts.first_name(index), contacts.last_name(index)
        if first is not None:
            fields["first_name"] = first
        if last is not None:
            fields["last_name"] = last
        deleted_at = self.account.deleted_at(index)
        if deleted_at is not None:
            fields["deleted_at"] = deleted_at
        return fields

    def rows(self, activity: Activity, report: str, page: EventColumns) -> list[dict[str, Any]]:
        base = {
            "campaign_activity_id": activity.activity_id,
            "tracking_activity_type": REPORT_TYPES[report],
        }
        times = timestamps(page.key)
        ids = self.account.contacts.contact_ids(page.contact)
        contacts = page.contact.tolist()
        fields = self.contact_fields
        rows = [
            {"contact_id": i, **fields(c), **base, "created_time": t}
            for i, c, t in zip(ids, contacts, times, strict=True)
        ]
        if report in {"opens", "unique_opens"}:
            _devices(rows, page.extra)
        elif report == "clicks":
            _devices(rows, page.extra2)
            for row, link in zip(rows, page.extra.tolist(), strict=True):
                row["url_id"] = url_id(activity, link)
                row["link_url"] = link_url(activity, link)
        elif report == "optouts":
            for row, reason in zip(rows, page.extra.tolist(), strict=True):
                if OPT_OUT_REASONS[reason] is not None:
                    row["opt_out_reason"] = OPT_OUT_REASONS[reason]
        elif report == "bounces":
            contacts_api = self.account.contacts
            for row, c, code in zip(rows, contacts, page.extra.tolist(), strict=True):
                row["bounce_code"] = _BOUNCE_CODES[code]
                current = contacts_api.current_email_address(c)
                if current is not None:
                    row["current_email_address"] = current
        return rows


def _devices(rows: list[dict[str, Any]], devices: np.ndarray) -> None:
    for row, device in zip(rows, devices.tolist(), strict=True):
        if device >= 0:
            row["device_type"] = DEVICES[device]
