"""One contact's activity across every campaign, including landing-page activity.

Landing-page activity (`p_contact_*`) appears only here, never in the email tracking reports,
just as in Constant Contact's contact reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cc_assets.sandbox.account import Account, stable_uuid
from cc_assets.sandbox.events import UID_BITS
from cc_assets.sandbox.service import SandboxService

EMAIL_TYPES = {
    "em_sends": "sends",
    "em_opens": "opens",
    "em_clicks": "clicks",
    "em_bounces": "bounces",
    "em_optouts": "optouts",
    "em_forwards": "forwards",
}
LANDING_TYPES = ("p_contact_open", "p_contact_click", "p_contact_add", "p_contact_update")
ALL_TYPES = (*EMAIL_TYPES, *LANDING_TYPES)


@dataclass(frozen=True, order=True)
class ContactEvent:
    """Ordered by (time, activity, type, uid): newest first is `sorted(..., reverse=True)`."""

    time: int
    activity_index: int
    type_index: int
    uid: int
    campaign_activity_id: str
    tracking_activity_type: str
    campaign_activity_name: str

    @property
    def cursor_key(self) -> str:
        return f"{self.time}.{self.activity_index}.{self.type_index}.{self.uid}"


def landing_page_id(account: Account) -> str:
    return stable_uuid(account.config.seed, "landing-page")


def contact_events(service: SandboxService, contact: int, types: set[str]) -> list[ContactEvent]:
    """Every visible event of `contact` whose type is in `types`, newest first."""
    account = service.account
    epoch = service.clock.epoch()
    out: list[ContactEvent] = []
    for campaign in account.campaigns:
        for activity in campaign.activities:
            if not activity.reported:
                continue
            events = service.events(activity)
            for type_index, (type_name, report) in enumerate(EMAIL_TYPES.items()):
                if type_name not in types:
                    continue
                columns = getattr(events, report).as_of(epoch)
                for key in columns.key[columns.contact == contact].tolist():
                    out.append(
                        ContactEvent(
                            key >> UID_BITS,
                            activity.index,
                            type_index,
                            key & ((1 << UID_BITS) - 1),
                            activity.activity_id,
                            type_name,
                            campaign.name,
                        )
                    )
    out.extend(landing_page_events(account, contact, epoch, types))
    out.sort(reverse=True)
    return out


def landing_page_events(
    account: Account, contact: int, epoch: int, types: set[str]
) -> list[ContactEvent]:
    """A few contacts visit the account's landing page; drawn from the contact's own seed."""
    if account.config.profile != "generated" or contact % 11:
        return []
    rng = np.random.default_rng([account.config.seed, 5, contact])
    start = int(account.config.now.timestamp()) - int(rng.integers(3600, 20 * 86400))
    events = []
    for step, type_name in enumerate(LANDING_TYPES[: int(rng.integers(1, 5))]):
        moment = start + step * int(rng.integers(5, 600))
        if moment <= epoch and type_name in types:
            events.append(
                ContactEvent(
                    moment,
                    -1,
                    len(EMAIL_TYPES) + step,
                    step,
                    landing_page_id(account),
                    type_name,
                    "Landing page: join our list",
                )
            )
    return events
