"""Tracking rows as Constant Contact serves them, rendered straight to JSON a page at a time.

The sandbox must serve at least 500 pages of 500 rows a second so that it is never
the bottleneck of what it tests. A dict per row plus a serialiser cost more than the whole HTTP
stack, so every value that repeats (a contact's name pair and `deleted_at`, the parts of an
address around the contact's number, a device, a link, a bounce code) is a JSON fragment made
once, escaped by orjson like every other response, and a row is one f-string over them.
Optional fields are omitted rather than sent as null, like the documented examples. The ground
truth parses these same bytes, so tests compare against exactly what the server sends.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import orjson

from cc_assets.sandbox.account import (
    DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    Account,
    Activity,
    email_head,
    email_tail,
)
from cc_assets.sandbox.events import (
    BOUNCE_CODES,
    DEVICES,
    OPT_OUT_REASONS,
    REPORT_TYPES,
    UID_BITS,
    EventColumns,
)

# `THH:MM:SS.000Z` by second of the day: a row's time is its day's date plus one of these.
CLOCK_TIMES = tuple(
    f"T{hour:02}:{minute:02}:{second:02}.000Z"
    for hour in range(24)
    for minute in range(60)
    for second in range(60)
)


@cache
def _date(day: int) -> str:
    """`YYYY-MM-DD` of a day since the epoch (a report spans a few dozen of them)."""
    return str(np.datetime64(day, "D"))


def timestamps(keys: np.ndarray) -> list[str]:
    """Composite keys -> CC's `2019-05-16T21:14:00.000Z`: two table look-ups per row, several
    times faster than numpy's datetime formatting on a page's hot path."""
    days, seconds = (part.tolist() for part in np.divmod(keys >> UID_BITS, 86_400))
    return [_date(day) + CLOCK_TIMES[second] for day, second in zip(days, seconds, strict=True)]


def link_url(activity: Activity, link: int) -> str:
    return f"https://example.com/{activity.campaign_id[:8]}/offer-{link}?utm=cc&lang=fr-é"


def url_id(activity: Activity, link: int) -> str:
    return str(1100407204171 + activity.index * 10 + link)


def _literal(value: str) -> str:
    """A JSON string literal, quotes included."""
    return orjson.dumps(value).decode()


def _field(name: str, value: str | None) -> str:
    """`,"name":"value"`, or nothing for an absent optional field."""
    return "" if value is None else f',"{name}":{_literal(value)}'


# Indexed by the event's device code; code -1 (no device captured) reads the trailing "".
DEVICE_FIELDS = (*(_field("device_type", device) for device in DEVICES), "")
REASON_FIELDS = tuple(_field("opt_out_reason", reason) for reason in OPT_OUT_REASONS)
BOUNCE_FIELDS = tuple(_field("bounce_code", code) for code in BOUNCE_CODES)


class RowRenderer:
    """Renders one account's tracking pages; holds three per-contact lists of shared strings."""

    def __init__(self, account: Account) -> None:
        self.account = account
        contacts = account.contacts
        pair = contacts.first.astype(np.int32) * len(LAST_NAMES) + contacts.last
        heads = [
            _literal(email_head(first, last))[1:-1]
            for first in range(len(FIRST_NAMES))
            for last in range(len(LAST_NAMES))
        ]
        tails = [
            _literal(email_tail(plus, domain))[1:-1]
            for plus in (False, True)
            for domain in range(len(DOMAINS))
        ]
        names = [""] + [
            _field("first_name", first) + _field("last_name", last)
            for first in FIRST_NAMES
            for last in LAST_NAMES
        ]
        deleted = ["", *(_field("deleted_at", day) for day in account.deleted_dates)]
        rests = [name + gone for name in names for gone in deleted]
        name_code = np.where(contacts.no_name, 0, pair + 1)
        deleted_code = np.where(contacts.deleted, contacts.deleted_days_ago.astype(np.int32) + 1, 0)
        self._head: list[str] = np.array(heads, dtype=object)[pair].tolist()
        self._tail: list[str] = np.array(tails, dtype=object)[
            contacts.plus.astype(np.int32) * len(DOMAINS) + contacts.domain
        ].tolist()
        self._rest: list[str] = np.array(rests, dtype=object)[
            name_code * len(deleted) + deleted_code
        ].tolist()

    def page(self, activity: Activity, report: str, page: EventColumns) -> bytes:
        """The page's rows as one JSON array, in the key order of CC's documented examples."""
        base = (
            f',"campaign_activity_id":"{activity.activity_id}"'
            f',"tracking_activity_type":"{REPORT_TYPES[report]}","created_time":"'
        )
        contacts = page.contact.tolist()
        ids = self.account.contacts.ids[page.contact].astype("U36").tolist()
        extras = self._extras(activity, report, page, contacts)
        head, tail, rest = self._head, self._tail, self._rest
        rows = [
            f'{{"contact_id":"{i}","email_address":"{head[c]}{c}{tail[c]}"{rest[c]}{base}{t}"{e}}}'
            for i, c, t, e in zip(ids, contacts, timestamps(page.key), extras, strict=True)
        ]
        return ("[" + ",".join(rows) + "]").encode()

    def _extras(
        self, activity: Activity, report: str, page: EventColumns, contacts: list[int]
    ) -> list[str]:
        """Each row's report-specific fields, already rendered."""
        if report in {"opens", "unique_opens"}:
            return [DEVICE_FIELDS[device] for device in page.extra.tolist()]
        if report == "clicks":
            links = page.extra.tolist()
            fields = {
                link: _field("url_id", url_id(activity, link))
                + _field("link_url", link_url(activity, link))
                for link in set(links)
            }
            devices = page.extra2.tolist()
            return [DEVICE_FIELDS[d] + fields[k] for d, k in zip(devices, links, strict=True)]
        if report == "optouts":
            return [REASON_FIELDS[reason] for reason in page.extra.tolist()]
        if report == "bounces":
            current = self.account.contacts.current_email_address
            return [
                BOUNCE_FIELDS[code] + _field("current_email_address", current(c))
                for c, code in zip(contacts, page.extra.tolist(), strict=True)
            ]
        return [""] * len(contacts)
