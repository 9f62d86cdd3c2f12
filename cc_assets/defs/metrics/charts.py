"""The picture of one activity for its materialization: engagement curve and device split.

Written as a small SVG, embedded in markdown as a data URI so the Dagster UI shows it inline,
with no file to serve. Drawn by hand rather than with a plotting library: two step lines and a
few bars are a page of code, while importing matplotlib cost the metrics step ~80 MB of
resident memory (the design holds every process of a refresh to 400 MB).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from xml.sax.saxutils import escape

import pyarrow as pa

DEVICE_ORDER = ("computer", "mobile", "tablet", "other", "none")
WIDTH, HEIGHT = 720, 260
CURVE_BOX = (60, 50, 400, 180)  # left, top, width, height of the curve's plot area
SHARE_BOX = (560, 50, 140, 180)  # the device split's
COLORS = {"open": "#1f77b4", "click": "#ff7f0e"}


def activity_svg(curve: pa.Table, devices: pa.Table, title: str) -> str:
    """Left: cumulative unique opens and clicks by hour since send. Right: each device's share
    of the opens and of the clicks (`none` = no device captured)."""
    hours = curve["hours_since_send"].to_pylist()
    opens = curve["cumulative_unique_opens"].to_pylist()
    clicks = curve["cumulative_unique_clicks"].to_pylist()
    share = {
        (r["event_type"], r["device_type"]): r["share_percent"] or 0.0 for r in devices.to_pylist()
    }
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        _text(WIDTH / 2, 18, title, size=13, anchor="middle"),
        *_curve(hours, opens, clicks),
        *_shares(share),
        "</svg>",
    ]
    return "\n".join(parts)


def _curve(hours: Sequence[float], opens: Sequence[int], clicks: Sequence[int]) -> list[str]:
    left, top, width, height = CURVE_BOX
    x_max = max(hours, default=0) or 1
    y_max = max([*opens, *clicks, 0]) or 1

    def step(values: Sequence[int]) -> str:
        points, previous = [], 0
        for hour, value in zip(hours, values, strict=True):
            x = left + width * hour / x_max
            points += [(x, previous), (x, value)]
            previous = value
        points.append((left + width, previous))
        return " ".join(f"{x:.1f},{top + height - height * y / y_max:.1f}" for x, y in points)

    return [
        _text(left + width / 2, top - 8, "Engagement curve", anchor="middle"),
        _axes(CURVE_BOX),
        _text(left - 6, top + 4, f"{y_max:,}", anchor="end"),
        _text(left - 6, top + height, "0", anchor="end"),
        _text(left + width, top + height + 14, f"{x_max:g} h", anchor="end"),
        _text(left + width / 2, top + height + 28, "hours since send", anchor="middle"),
        *(
            f'<polyline class="{event}s" fill="none" stroke="{COLORS[event]}" stroke-width="2" '
            f'points="{step(values)}"/>'
            for event, values in (("open", opens), ("click", clicks))
        ),
        *_legend(left + width - 70, top + height - 30),
    ]


def _shares(share: dict[tuple[str, str], float]) -> list[str]:
    left, top, width, height = SHARE_BOX
    present = [d for d in DEVICE_ORDER if any((e, d) in share for e in COLORS)]
    labels = present + sorted({d for _, d in share} - set(DEVICE_ORDER))
    row = height / max(len(labels), 1)
    parts = [_text(left + width / 2, top - 8, "Device split", anchor="middle"), _axes(SHARE_BOX)]
    for index, device in enumerate(labels):
        y = top + index * row
        parts.append(_text(left - 6, y + row / 2 + 4, device, anchor="end"))
        for offset, event in enumerate(COLORS):
            percent = share.get((event, device), 0.0)
            parts.append(
                f'<rect class="{event}s" data-device="{escape(device)}" '
                f'data-percent="{percent:.2f}" x="{left}" y="{y + row * (0.1 + 0.4 * offset):.1f}" '
                f'width="{width * percent / 100:.1f}" height="{row * 0.4:.1f}" '
                f'fill="{COLORS[event]}"/>'
            )
    parts.append(_text(left + width, top + height + 14, "100% of events", anchor="end"))
    return parts


def _axes(box: tuple[float, float, float, float]) -> str:
    left, top, width, height = box
    return f'<path d="M{left},{top} V{top + height} H{left + width}" fill="none" stroke="#444"/>'


def _legend(x: float, y: float) -> list[str]:
    return [
        part
        for index, event in enumerate(COLORS)
        for part in (
            f'<rect x="{x}" y="{y + index * 14}" width="10" height="10" fill="{COLORS[event]}"/>',
            _text(x + 14, y + index * 14 + 9, f"{event}s"),
        )
    ]


def _text(x: float, y: float, content: str, size: int = 11, anchor: str = "start") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}">'
        f"{escape(content)}</text>"
    )


def markdown_image(svg: str, alt: str) -> str:
    """The SVG as an inline markdown image."""
    encoded = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return f"![{alt}](data:image/svg+xml;base64,{encoded})"
