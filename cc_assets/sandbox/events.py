"""Every event an activity will ever have, generated on demand as numpy columns.

An activity's whole future is drawn once from its own seed; "as of now" is a filter on time, so
advancing the clock reveals new opens and clicks exactly as they would have arrived. Each report
is kept sorted newest first by a composite key `time << 24 | uid`, which is also the keyset
cursor: pages never shift when events arrive at the head.
"""

from __future__ import annotations

import bisect
import operator
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from threading import Lock

import numpy as np

from cc_assets.sandbox.account import Account, Activity

UID_BITS = 24
DEVICES = ("computer", "mobile", "tablet", "other")
DEVICE_NONE = -1  # the device was not captured: no device_type on the row, "none" in stats
DEVICE_WEIGHTS = (0.44, 0.34, 0.08, 0.08, 0.06)  # computer, mobile, tablet, other, none
BOUNCE_CODES = ("B", "D", "F", "S", "V", "X", "Z")
BOUNCE_STATS_KEY = {
    "B": "em_bounces_nonexistent_address",
    "D": "em_bounces_undeliverable",
    "F": "em_bounces_mailbox_full",
    "S": "em_bounces_suspended",
    "V": "em_bounces_vacation",
    "X": "em_bounces_other",
    "Z": "em_bounces_blocked",
}
OPT_OUT_REASONS = (
    None,
    "Too many emails",
    "Content not relevant",
    "I never signed up",
    "Pas intéressé ✉",
)
REPORT_TYPES = {
    "sends": "em_sends",
    "opens": "em_opens",
    "unique_opens": "em_opens",
    "didnotopens": "em_didnotopens",
    "clicks": "em_clicks",
    "forwards": "em_forwards",
    "optouts": "em_optouts",
    "bounces": "em_bounces",
}


def to_epoch(moment: datetime) -> int:
    return int(moment.timestamp())


@dataclass
class EventColumns:
    """One report's events, newest first. `extra` holds report-specific integer codes."""

    key: np.ndarray  # int64, strictly decreasing
    contact: np.ndarray  # int32
    extra: np.ndarray | None = None  # device, url index, bounce code or reason index
    extra2: np.ndarray | None = None  # device for clicks

    @property
    def time(self) -> np.ndarray:
        return self.key >> UID_BITS

    def __len__(self) -> int:
        return len(self.key)

    @property
    def nbytes(self) -> int:
        arrays = (self.key, self.contact, self.extra, self.extra2)
        return sum(array.nbytes for array in arrays if array is not None)

    def count_newer(self, key: int) -> int:
        """How many rows have a greater key, i.e. where the page after `key` starts: a binary
        search over the descending keys, not a negated copy of the column per page."""
        return bisect.bisect_left(self.key, -key, key=operator.neg)

    def as_of(self, epoch: int) -> EventColumns:
        """The events visible at `epoch`: a suffix of the newest-first arrays."""
        first_key_after = (epoch + 1) << UID_BITS  # the smallest key of a later second
        return self.slice(self.count_newer(first_key_after - 1), len(self.key))

    def where(self, keep: np.ndarray) -> EventColumns:
        """The rows where `keep` is true (a report filter: url_id, bounce_code, contact)."""
        return EventColumns(
            self.key[keep],
            self.contact[keep],
            None if self.extra is None else self.extra[keep],
            None if self.extra2 is None else self.extra2[keep],
        )

    def slice(self, start: int, stop: int) -> EventColumns:
        return EventColumns(
            self.key[start:stop],
            self.contact[start:stop],
            None if self.extra is None else self.extra[start:stop],
            None if self.extra2 is None else self.extra2[start:stop],
        )


def _sorted(
    time: np.ndarray,
    contact: np.ndarray,
    extra: np.ndarray | None = None,
    extra2: np.ndarray | None = None,
) -> EventColumns:
    uid = np.arange(len(time), dtype=np.int64)
    key = (time.astype(np.int64) << UID_BITS) | uid
    order = np.argsort(-key, kind="stable")
    return EventColumns(
        key[order],
        contact[order].astype(np.int32),
        None if extra is None else extra[order],
        None if extra2 is None else extra2[order],
    )


@dataclass
class ActivityEvents:
    """All eventual events of one activity, per report kind."""

    sends: EventColumns
    bounces: EventColumns  # extra = bounce code index
    opens: EventColumns  # extra = device code
    clicks: EventColumns  # extra = link index, extra2 = device code
    forwards: EventColumns
    optouts: EventColumns  # extra = reason index
    links: int

    @property
    def nbytes(self) -> int:
        reports = (self.sends, self.bounces, self.opens, self.clicks, self.forwards, self.optouts)
        return sum(columns.nbytes for columns in reports)

    def unique_opens(self, epoch: int) -> EventColumns:
        """The last open of each contact, as of `epoch` (CC's unique_opens report)."""
        seen = self.opens.as_of(epoch)
        _, first = np.unique(seen.contact, return_index=True)  # newest first: first = last open
        first.sort()
        return EventColumns(seen.key[first], seen.contact[first], seen.extra[first])

    def didnotopens(self, epoch: int) -> EventColumns:
        """Sent and not bounced by `epoch`, and no open by then; created_time is the send."""
        sent = self.sends.as_of(epoch)
        gone = np.union1d(self.bounces.as_of(epoch).contact, self.opens.as_of(epoch).contact)
        keep = ~np.isin(sent.contact, gone)
        return EventColumns(sent.key[keep], sent.contact[keep])

    def report(self, name: str, epoch: int) -> EventColumns:
        if name == "unique_opens":
            return self.unique_opens(epoch)
        if name == "didnotopens":
            return self.didnotopens(epoch)
        return getattr(self, name).as_of(epoch)


def _empty() -> EventColumns:
    z = np.zeros(0, dtype=np.int64)
    return EventColumns(z, z.astype(np.int32), z.astype(np.int16), z.astype(np.int16))


EMPTY = ActivityEvents(_empty(), _empty(), _empty(), _empty(), _empty(), _empty(), links=0)


def generate(
    account: Account, activity: Activity, primary: ActivityEvents | None
) -> ActivityEvents:
    """Draw an activity's events. A resend goes to the primary's non-openers at resend time."""
    if account.config.profile == "seed-example":
        return _seed_example(account, activity)
    if activity.send_at is None or not activity.reported or not activity.sends_planned:
        return EMPTY
    rng = np.random.default_rng([account.config.seed, 3, activity.index])
    n_contacts = account.contacts.count
    send_epoch = to_epoch(activity.send_at)
    if primary is not None:
        pool = primary.didnotopens(send_epoch).contact
        recipients = np.sort(pool).astype(np.int64)
    else:
        recipients = np.flatnonzero(rng.random(n_contacts) < activity.audience_share)
    n = len(recipients)
    send_time = send_epoch + rng.integers(0, activity.send_window, n)

    bounced = rng.random(n) < 0.045
    bounce_code = rng.integers(0, len(BOUNCE_CODES), n).astype(np.int16)
    bounce_time = send_time + rng.integers(30, 3600, n)

    delivered = ~bounced
    opener = delivered & (rng.random(n) < 0.38)
    # Engagement follows the send: most first opens within two days, then a long tail.
    mix = rng.random(n)
    delay = np.where(
        mix < 0.7,
        rng.exponential(5 * 3600, n),
        np.where(mix < 0.95, rng.exponential(2 * 86400, n), rng.uniform(0, 30 * 86400, n)),
    )
    first_open = send_time + 1 + delay.astype(np.int64)
    n_opens = np.minimum(rng.geometric(0.55, n), 6) * opener
    open_owner = np.repeat(np.arange(n), n_opens)
    step = rng.exponential(86400, len(open_owner)).astype(np.int64) + 1
    step[_group_starts(n_opens)] = 0
    open_time = first_open[open_owner] + _grouped_cumsum(step, n_opens)
    device_choice = rng.choice(5, size=len(open_owner), p=DEVICE_WEIGHTS)
    open_device = np.where(device_choice == 4, DEVICE_NONE, device_choice).astype(np.int16)

    links = int(rng.integers(3, 7))
    clicker = opener & (rng.random(n) < 0.3)
    n_clicks = rng.integers(1, 4, n) * clicker
    click_owner = np.repeat(np.arange(n), n_clicks)
    click_step = rng.exponential(600, len(click_owner)).astype(np.int64) + 1
    click_time = first_open[click_owner] + _grouped_cumsum(click_step, n_clicks)
    click_link = rng.integers(0, links, len(click_owner)).astype(np.int16)
    click_choice = rng.choice(5, size=len(click_owner), p=DEVICE_WEIGHTS)
    click_device = np.where(click_choice == 4, DEVICE_NONE, click_choice).astype(np.int16)

    forwarder = opener & (rng.random(n) < 0.03)
    forward_time = first_open + 1 + rng.exponential(3600, n).astype(np.int64)

    optout = delivered & (rng.random(n) < np.where(opener, 0.02, 0.006))
    optout_time = np.where(
        opener,
        first_open + 1 + rng.exponential(1800, n).astype(np.int64),
        send_time + 1 + rng.exponential(86400, n).astype(np.int64),
    )
    reason = rng.integers(0, len(OPT_OUT_REASONS), n).astype(np.int16)

    return ActivityEvents(
        sends=_sorted(send_time, recipients),
        bounces=_sorted(bounce_time[bounced], recipients[bounced], bounce_code[bounced]),
        opens=_sorted(open_time, recipients[open_owner], open_device),
        clicks=_sorted(click_time, recipients[click_owner], click_link, click_device),
        forwards=_sorted(forward_time[forwarder], recipients[forwarder]),
        optouts=_sorted(optout_time[optout], recipients[optout], reason[optout]),
        links=links,
    )


def _group_starts(counts: np.ndarray) -> np.ndarray:
    ends = np.cumsum(counts)
    return (ends - counts)[counts > 0]


def _grouped_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Cumulative sum restarting at each group, so repeat events of a contact keep increasing."""
    total = np.cumsum(values)
    starts = _group_starts(counts)
    offsets = np.zeros(len(values), dtype=np.int64)
    if len(starts):
        base = np.concatenate(([0], total[starts[1:] - 1])) if len(starts) > 1 else np.array([0])
        group_index = np.repeat(np.arange(len(starts)), counts[counts > 0])
        offsets = base[group_index]
    return total - offsets


def _seed_example(account: Account, activity: Activity) -> ActivityEvents:
    """The seed documents' numbers: sends 15, bounces 6, opens 6 (mobile 5, other 1), not
    opened 3, clicks 2 (mobile 1, other 1), forwards 1, opt-outs 1; one bounce of each subtype
    but `suspended`."""
    if activity.role != "primary_email" or activity.send_at is None:
        return EMPTY
    t0 = to_epoch(activity.send_at)
    c = np.arange(15)
    code = np.array([BOUNCE_CODES.index(x) for x in "ZXBDFV"], dtype=np.int16)
    mobile, other = DEVICES.index("mobile"), DEVICES.index("other")
    openers = np.arange(6, 12)
    return ActivityEvents(
        sends=_sorted(t0 + c, c),
        bounces=_sorted(t0 + 100 + c[:6], c[:6], code),
        opens=_sorted(
            t0 + 3600 + openers * 60,
            openers,
            np.array([mobile] * 5 + [other], dtype=np.int16),
        ),
        clicks=_sorted(
            np.array([t0 + 7200, t0 + 7300]),
            np.array([6, 11]),
            np.array([0, 1], dtype=np.int16),
            np.array([mobile, other], dtype=np.int16),
        ),
        forwards=_sorted(np.array([t0 + 9000]), np.array([7])),
        optouts=_sorted(np.array([t0 + 9500]), np.array([8]), np.array([1], dtype=np.int16)),
        links=2,
    )


DEFAULT_CACHE_BYTES = 1 << 30


class EventStore:
    """An LRU of generated activities bounded in bytes: memory stays flat however large the
    account, yet every activity of a typical account fits. That matters for contact reports,
    which read every activity per call: an LRU smaller than the account regenerates all of
    them on every call (seconds at a million contacts, where the real API answers at once).
    About 16 MB per activity of a million-contact audience."""

    def __init__(self, account: Account, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        if max_bytes <= 0:
            raise ValueError("the event cache needs a positive size")
        self.account = account
        self.max_bytes = max_bytes
        self._cache: OrderedDict[str, ActivityEvents] = OrderedDict()
        self._bytes = 0
        self._lock = Lock()

    def __len__(self) -> int:
        return len(self._cache)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def get(self, activity: Activity) -> ActivityEvents:
        with self._lock:
            hit = self._cache.get(activity.activity_id)
            if hit is not None:
                self._cache.move_to_end(activity.activity_id)
                return hit
        primary = None
        if activity.resend_of is not None:
            primary = self.get(self.account.activity_by_id[activity.resend_of])
        events = generate(self.account, activity, primary)
        with self._lock:
            if activity.activity_id not in self._cache:  # another request may have won
                self._cache[activity.activity_id] = events
                self._bytes += events.nbytes
            while self._bytes > self.max_bytes and len(self._cache) > 1:
                self._bytes -= self._cache.popitem(last=False)[1].nbytes
        return events
