"""The sandbox account's catalogue: contacts, campaigns and activities, derived from a seed.

Everything here is small or computed on demand, so a million-contact account costs a few
numpy arrays, not a million Python objects. Per-activity events live in `events.py`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property, partial
from typing import Any

import numpy as np

FIRST_NAMES = (
    "Ada", "José", "Zoë", "Łukasz", "Jake", "Mei", "Søren", "Amélie", "Olu", "Priya",
    "Noah", "Chloé", "Björn", "Aiko", "Mateo", "Fatima", "Ivan", "Grace", "Renée", "Tomás",
)  # fmt: skip
LAST_NAMES = (
    "Dodge", "Müller", "García", "O'Brien", "Nguyễn", "Kowalski", "Smith", "Dubois",
    "Yamamoto", "Østergaard", "Silva", "Öztürk", "Brown", "Čapek", "Lee", "Moreau",
)  # fmt: skip
DOMAINS = ("example.com", "mail.example.org", "exämple.net", "corp.example.io")

CAMPAIGN_STATUS_OF = {
    "DRAFT": "Draft",
    "SCHEDULED": "Scheduled",
    "EXECUTING": "Executing",
    "DONE": "Done",
    "ERROR": "Error",
    "REMOVED": "Removed",
}
CAMPAIGN_TYPES = ((10, "NEWSLETTER"), (11, "ANNOUNCEMENT"), (23, "PRODUCT_PROMOTION"), (2, "BULK"))
REPORTED_ROLES = ("primary_email", "resend")
SENDING_STATUSES = ("SCHEDULED", "EXECUTING", "DONE")
UNSENT_CYCLE = {1: "SCHEDULED", 5: "DRAFT", 9: "ERROR", 13: "REMOVED"}
"""Campaign positions that are not sent: with 14 or more campaigns every status occurs (the
first campaign is always still EXECUTING)."""


def stable_uuid(*parts: object) -> str:
    """A UUID that depends only on its inputs, so every run of a seed names things alike."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).digest()
    return str(uuid.UUID(bytes=digest, version=4))


def floor_to_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


RESPONSE_VARIANTS = {
    # the live API: list `Done`, detail `DONE` | the spec's title case in both
    "campaign_status": ("detail_upper_case", "title_case"),
    "activity_stats_keys": ("underscore", "dotted"),  # em_opens_all_mobile | em_opens.all.mobile
    # the bulk summary's counts and aggregate percents: numbers, an object of numbers | strings,
    # a one-element array of strings (the docs) | numbers, an object of integers (a recording)
    "summary_counts": ("number", "string", "integer"),
    "next_href": ("relative", "absolute"),  # `/v3/...` | `http://host/v3/...`
    "activity_type_field": ("tracking_activity_type", "tracking_activities_list"),
    "unknown_field": ("none", "everywhere"),  # every object of every body: `sandbox_unknown`
    "token_expires_in": ("number", "string"),  # `86400` | `"86400"` (a v2-era recording)
    # the v2 docs' records | CC's v2 SDK fixtures: clicks with `link_uri`, `campaign_id` a
    # JSON number, summaries without `spam_count`, a campaign with `last_edit_date` and no
    # `modified_date`
    "v2_records": ("documented", "sdk_fixtures"),
    "v2_next_link": ("documented", "emailcampaigns", "other_path", "other_host", "no_token"),
}
"""Where Constant Contact's responses differ between its documents and recordings of the real
API, the sandbox serves each form on demand so the client is proven against all of them. The
first choice is the default: the live API's recorded form where one was recorded (it is valid
under the spec), else the spec's.
`v2_next_link`: `emailcampaigns` is the alias path of CC's SDK recordings (`/v2/emailcampaigns/
{id}/tracking/{report}?next=...`); past it, each choice is a broken link (to another report, to
another host, without its `next` token) that a client must refuse."""


@dataclass(frozen=True)
class AccountConfig:
    """The whole definition of an account: the same config always yields the same data."""

    seed: int = 7
    contacts: int = 2_000
    campaigns: int = 12
    days: int = 45
    now: datetime = field(default_factory=lambda: floor_to_second(datetime.now(UTC)))
    profile: str = "generated"  # or "seed-example"
    stats_refresh_seconds: int = 0
    # The documented variants (RESPONSE_VARIANTS): the default first.
    campaign_status: str = "detail_upper_case"
    activity_stats_keys: str = "underscore"
    summary_counts: str = "number"
    next_href: str = "relative"
    activity_type_field: str = "tracking_activity_type"
    unknown_field: str = "none"
    token_expires_in: str = "number"
    v2_records: str = "documented"
    v2_next_link: str = "documented"

    def __post_init__(self) -> None:
        if self.profile not in {"generated", "seed-example"}:
            raise ValueError(f"unknown profile {self.profile!r}")
        if self.contacts < 1 or self.campaigns < 1 or self.days < 1:
            raise ValueError("contacts, campaigns and days must be positive")
        if self.now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        for name, choices in RESPONSE_VARIANTS.items():
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {', '.join(choices)}")

    def as_dict(self) -> dict[str, object]:
        return {
            "seed": self.seed,
            "contacts": self.contacts,
            "campaigns": self.campaigns,
            "days": self.days,
            "now": self.now.isoformat().replace("+00:00", "Z"),
            "profile": self.profile,
            "stats_refresh_seconds": self.stats_refresh_seconds,
            **{name: getattr(self, name) for name in RESPONSE_VARIANTS},
        }


def account_fingerprint(config: AccountConfig, clock: str) -> str:
    """Names an account and its clock mode: two sandboxes with one fingerprint serve the same
    data at the same moment, so their numbers may share a lake; any other pair may not."""
    text = json.dumps({**config.as_dict(), "clock": clock}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


_HEX = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2")
_LAST_LOWER = [name.lower().replace("'", "") for name in LAST_NAMES]


def _uuid_array(rng: np.random.Generator, count: int) -> np.ndarray:
    """`count` random version-4 UUID strings as one fixed-width bytes array (36 B each)."""
    raw = rng.integers(0, 256, (count, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = _HEX[raw].view(np.uint8).reshape(count, 32)
    out = np.full((count, 36), ord("-"), dtype=np.uint8)
    for src, dst in ((slice(0, 8), slice(0, 8)), (slice(8, 12), slice(9, 13)),
                     (slice(12, 16), slice(14, 18)), (slice(16, 20), slice(19, 23)),
                     (slice(20, 32), slice(24, 36))):  # fmt: skip
        out[:, dst] = hexed[:, src]
    return out.view("S36").reshape(count)


class Contacts:
    """Contact attributes as functions of the contact's index, held as compact numpy arrays.

    A million contacts cost a few small arrays, not a million Python objects; the tracking
    pages' hot path (`render.py`) builds its own per-contact JSON fragments from these.
    """

    def __init__(self, seed: int, count: int) -> None:
        self.seed = seed
        self.count = count
        rng = np.random.default_rng([seed, 1])
        self.first = rng.integers(0, len(FIRST_NAMES), count).astype(np.int8)
        self.last = rng.integers(0, len(LAST_NAMES), count).astype(np.int8)
        self.domain = rng.integers(0, len(DOMAINS), count).astype(np.int8)
        self.plus = rng.random(count) < 0.08
        self.no_name = rng.random(count) < 0.05
        self.deleted = rng.random(count) < 0.03
        self.changed = rng.random(count) < 0.05
        # deleted_at is a date a few days before the account's "now" (set by the account).
        self.deleted_days_ago = rng.integers(0, 20, count).astype(np.int8)
        self.ids = _uuid_array(rng, count)

    def contact_id(self, index: int) -> str:
        return self.ids[index].decode()

    def index_of(self, contact_id: str) -> int | None:
        """Reverse lookup; built lazily because only the contact-report routes need it."""
        return self._index_by_id.get(contact_id)

    @cached_property
    def _index_by_id(self) -> dict[str, int]:
        return {self.contact_id(i): i for i in range(self.count)}

    def is_deleted(self, index: int) -> bool:
        return bool(self.deleted[index])

    def first_name(self, index: int) -> str | None:
        return None if self.no_name[index] else FIRST_NAMES[self.first[index]]

    def last_name(self, index: int) -> str | None:
        return None if self.no_name[index] else LAST_NAMES[self.last[index]]

    def email_address(self, index: int) -> str:
        head = email_head(self.first[index], self.last[index])
        return f"{head}{index}{email_tail(self.plus[index], self.domain[index])}"

    def current_email_address(self, index: int) -> str | None:
        if not self.changed[index]:
            return None
        first = FIRST_NAMES[self.first[index]].lower()
        return f"{first}{index}.new@{DOMAINS[(self.domain[index] + 1) % len(DOMAINS)]}"


def email_head(first: int, last: int) -> str:
    """What an address has before the contact's number: `ada.dodge`."""
    return f"{FIRST_NAMES[first].lower()}.{_LAST_LOWER[last]}"


def email_tail(plus: bool, domain: int) -> str:
    """What an address has after the contact's number: `+news@example.com`."""
    return f"{'+news' if plus else ''}@{DOMAINS[domain]}"


@dataclass(frozen=True)
class Activity:
    activity_id: str
    campaign_id: str
    role: str
    status: str
    subject: str
    from_name: str
    from_email: str
    reply_to_email: str
    send_at: datetime | None
    index: int  # position in the account, seeds its events
    audience_share: float
    resend_of: str | None = None

    @property
    def reported(self) -> bool:
        return self.role in REPORTED_ROLES

    @property
    def send_window(self) -> int:
        """Seconds from the first to the last send: a large list takes hours to go out."""
        return 4 * 3600 if self.status == "EXECUTING" else 600

    @property
    def sends_planned(self) -> bool:
        return self.send_at is not None and self.status in SENDING_STATUSES

    def status_at(self, epoch: int) -> str:
        """Scheduled, executing and sent activities move along with the clock."""
        if not self.sends_planned or self.send_at is None:
            return self.status
        start = int(self.send_at.timestamp())
        if epoch < start:
            return "SCHEDULED"
        return "EXECUTING" if epoch < start + self.send_window else "DONE"

    def finished_at(self) -> datetime | None:
        if not self.sends_planned or self.send_at is None:
            return None
        return self.send_at + timedelta(seconds=self.send_window)


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    name: str
    type: str
    type_code: int
    created_at: datetime
    activities: tuple[Activity, ...]
    v2_id: str

    @property
    def primary(self) -> Activity:
        return next(a for a in self.activities if a.role == "primary_email")

    def status_at(self, epoch: int) -> str:
        return CAMPAIGN_STATUS_OF[self.primary.status_at(epoch)]

    def updated_at_as_of(self, epoch: int) -> datetime:
        """The last change seen by `epoch`: creation, a send starting, or a send finishing."""
        moments = [self.created_at]
        for activity in self.activities:
            for moment in (activity.send_at, activity.finished_at()):
                if moment is not None and moment.timestamp() <= epoch:
                    moments.append(moment)
        return max(moments)


def build_campaigns(config: AccountConfig) -> tuple[Campaign, ...]:
    """The account's campaigns. Planned statuses cycle so every status occurs."""
    if config.profile == "seed-example":
        return (_seed_example_campaign(config),)
    rng = np.random.default_rng([config.seed, 2])
    now = config.now
    campaigns = []
    for c in range(config.campaigns):
        cid = stable_uuid(config.seed, "campaign", c)
        # Most campaigns are sent; a few are drafts, scheduled, executing, errored or removed.
        status = UNSENT_CYCLE.get(c % 16, "DONE")
        if c == 0 and config.campaigns > 1:
            status = "EXECUTING"
        age = timedelta(seconds=int(rng.integers(3600, config.days * 86400)))
        send_at = floor_to_second(now - age) if status in {"DONE", "EXECUTING", "ERROR"} else None
        if status == "SCHEDULED":
            send_at = floor_to_second(now + timedelta(days=2))
        if status == "EXECUTING":  # still sending: part of its audience is in the future
            send_at = floor_to_second(now - timedelta(hours=1))
        created_at = floor_to_second(now - age - timedelta(days=int(rng.integers(1, 5))))
        type_code, type_name = CAMPAIGN_TYPES[c % len(CAMPAIGN_TYPES)]
        name = f"Campaign {c + 1}: {('Spring sale', 'Newsletter', 'Événement', 'Update')[c % 4]}"

        common = {
            "campaign_id": cid,
            "from_name": "Jake Dodge Pancakes",
            "from_email": "jake@example.com",
            "reply_to_email": "reply@example.com",
            "audience_share": float(rng.uniform(0.4, 1.0)),
        }
        activity = partial(_generated_activity, config.seed, c, name, common)
        primary = activity("primary_email", 0, status, send_at)
        acts = [primary, activity("permalink", 1, status, None)]
        if status == "DONE" and c % 3 == 2 and send_at is not None:
            resend_at = send_at + timedelta(days=3)
            if resend_at < now - timedelta(hours=1):
                acts.append(activity("resend", 2, "DONE", resend_at, resend_of=primary.activity_id))
        acts_t = tuple(acts)
        campaigns.append(
            Campaign(
                campaign_id=cid,
                name=name,
                type=type_name,
                type_code=type_code,
                created_at=created_at,
                activities=acts_t,
                v2_id=str(1100394165287 + c),
            )
        )
    return tuple(campaigns)


def _generated_activity(
    seed: int,
    c: int,
    name: str,
    common: dict[str, Any],
    role: str,
    idx: int,
    status: str,
    send_at: datetime | None,
    **extra: Any,
) -> Activity:
    return Activity(
        activity_id=stable_uuid(seed, "activity", c, role),
        role=role,
        status=status,
        subject=f"{name} ({role})",
        send_at=send_at,
        index=c * 3 + idx,
        **common,
        **extra,
    )


def _seed_example_campaign(config: AccountConfig) -> Campaign:
    cid = stable_uuid(config.seed, "seed-example", "campaign")
    send_at = floor_to_second(config.now - timedelta(days=3))

    def activity(role: str, idx: int, at: datetime | None) -> Activity:
        return Activity(
            activity_id=stable_uuid(config.seed, "seed-example", role),
            campaign_id=cid,
            role=role,
            status="DONE",
            subject="Pancake breakfast",
            from_name="Jake Dodge Pancakes",
            from_email="jake_dodge@jakedodgepancakes.com",
            reply_to_email="jake_dodge@jakedodgepancakes.com",
            send_at=at,
            index=idx,
            audience_share=1.0,
        )

    acts = (activity("primary_email", 0, send_at), activity("permalink", 1, None))
    return Campaign(
        campaign_id=cid,
        name="Seed example",
        type="NEWSLETTER",
        type_code=10,
        created_at=send_at - timedelta(days=1),
        activities=acts,
        v2_id="1100394165287",
    )


class Account:
    """A generated account: catalogue plus the contact table."""

    def __init__(self, config: AccountConfig) -> None:
        self.config = config
        contacts = 15 if config.profile == "seed-example" else config.contacts
        self.contacts = Contacts(config.seed, contacts)
        self.campaigns = build_campaigns(config)
        self.campaign_by_id = {c.campaign_id: c for c in self.campaigns}
        self.campaign_by_v2_id = {c.v2_id: c for c in self.campaigns}
        self.activity_by_id = {a.activity_id: a for c in self.campaigns for a in c.activities}

    def deleted_at(self, index: int) -> str | None:
        if not self.contacts.is_deleted(index):
            return None
        return self.deleted_dates[self.contacts.deleted_days_ago[index]]

    @cached_property
    def deleted_dates(self) -> list[str]:
        """`deleted_at` by days before the account's "now"."""
        today = self.config.now.date()
        return [(today - timedelta(days=days)).isoformat() for days in range(20)]
