"""Stats and percents computed from the events with Constant Contact's own formulas.

The real service computes stats on a schedule; `as_of` is the refresh time, so stats can lag the
tracking reports the way `last_refresh_time` says they do.
"""

from __future__ import annotations

import numpy as np

from cc_assets.constant_contact.schemas import ACTIVITY_STATS_KEYS, CAMPAIGN_STATS_KEYS
from cc_assets.sandbox.events import (
    BOUNCE_CODES,
    BOUNCE_STATS_KEY,
    DEVICE_NONE,
    DEVICES,
    ActivityEvents,
)


def _device_counts(prefix: str, devices: np.ndarray) -> dict[str, int]:
    counts = {f"{prefix}_{name}": int(np.sum(devices == code)) for code, name in enumerate(DEVICES)}
    counts[f"{prefix}_none"] = int(np.sum(devices == DEVICE_NONE))
    return counts


def activity_stats(events: ActivityEvents, as_of: int) -> dict[str, int]:
    """`stats` of one activity (underscore keys), as of the epoch second `as_of`."""
    sends = events.sends.as_of(as_of)
    bounces = events.bounces.as_of(as_of)
    opens = events.opens.as_of(as_of)
    clicks = events.clicks.as_of(as_of)
    stats = {
        "em_sends": len(np.unique(sends.contact)),
        "em_bounces": len(np.unique(bounces.contact)),
        "em_opens": len(np.unique(opens.contact)),
        "em_opens_all": len(opens),
        "em_clicks": len(np.unique(clicks.contact)),
        "em_clicks_all": len(clicks),
        "em_forwards": len(np.unique(events.forwards.as_of(as_of).contact)),
        "em_optouts": len(np.unique(events.optouts.as_of(as_of).contact)),
        "em_abuse": 0,
        **_device_counts("em_opens_all", opens.extra),
        **_device_counts("em_clicks_all", clicks.extra2),
    }
    stats["em_not_opened"] = max(stats["em_sends"] - stats["em_opens"] - stats["em_bounces"], 0)
    for index, code in enumerate(BOUNCE_CODES):
        stats[BOUNCE_STATS_KEY[code]] = int(np.sum(bounces.extra == index))
    return {key: stats[key] for key in ACTIVITY_STATS_KEYS}


def campaign_stats(per_activity: list[dict[str, int]]) -> dict[str, int]:
    """A campaign's stats: its reported activities' counts added up."""
    return {key: sum(s[key] for s in per_activity) for key in CAMPAIGN_STATS_KEYS}


def _pct(numerator: float, denominator: float) -> float:
    return 0.0 if denominator == 0 else 100.0 * numerator / denominator


def percents(stats: dict[str, int]) -> dict[str, float]:
    """CC's `percents`: open and did-not-open over delivered, click over opens,
    device shares over all opens/clicks with everything but mobile and tablet as desktop."""
    delivered = stats["em_sends"] - stats["em_bounces"]
    mobile_opens = stats["em_opens_all_mobile"] + stats["em_opens_all_tablet"]
    mobile_clicks = stats["em_clicks_all_mobile"] + stats["em_clicks_all_tablet"]
    return {
        "bounce": _pct(stats["em_bounces"], stats["em_sends"]),
        "click": _pct(stats["em_clicks"], stats["em_opens"]),
        "desktop_click": _pct(stats["em_clicks_all"] - mobile_clicks, stats["em_clicks_all"]),
        "desktop_open": _pct(stats["em_opens_all"] - mobile_opens, stats["em_opens_all"]),
        "did_not_open": _pct(stats["em_not_opened"], delivered),
        "mobile_click": _pct(mobile_clicks, stats["em_clicks_all"]),
        "mobile_open": _pct(mobile_opens, stats["em_opens_all"]),
        "open": _pct(stats["em_opens"], delivered),
        "unsubscribe": _pct(stats["em_optouts"], delivered),
    }


def dotted(key: str) -> str:
    """`em_opens_all_mobile` -> `em_opens.all.mobile`, as CC's activity-stats docs spell it;
    bounce subtypes keep their underscores there."""
    for prefix in ("em_opens_all", "em_clicks_all"):
        if key.startswith(prefix):
            head = prefix.replace("_all", ".all")
            tail = key[len(prefix) :]
            return head + tail.replace("_", ".", 1) if tail else head
    return key
