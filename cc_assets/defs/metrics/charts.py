"""The picture of one activity for its materialization: engagement curve and device split.

Drawn with matplotlib's Agg backend (no display) into a small PNG, embedded in markdown as a
data URI so the Dagster UI shows it inline, with no file to serve.
"""

from __future__ import annotations

import base64
import io

import pyarrow as pa

DEVICE_ORDER = ("computer", "mobile", "tablet", "other", "none")


def activity_png(curve: pa.Table, devices: pa.Table, title: str) -> bytes:
    """Left: cumulative unique opens and clicks by hour since send. Right: each device's share
    of the opens and of the clicks (`none` = no device captured)."""
    import matplotlib  # noqa: PLC0415 - heavy, and only needed when a metric is materialized

    matplotlib.use("Agg")
    from matplotlib import pyplot  # noqa: PLC0415

    figure, (left, right) = pyplot.subplots(
        1, 2, figsize=(9, 3), dpi=80, gridspec_kw={"width_ratios": [3, 2]}
    )
    try:
        hours = curve["hours_since_send"].to_pylist()
        left.step(hours, curve["cumulative_unique_opens"].to_pylist(), where="post", label="opens")
        left.step(
            hours, curve["cumulative_unique_clicks"].to_pylist(), where="post", label="clicks"
        )
        left.set_xlabel("hours since send")
        left.set_ylabel("unique contacts (cumulative)")
        left.set_title("Engagement curve", fontsize=10)
        left.legend(loc="lower right", fontsize=8)
        left.grid(alpha=0.3)

        share = {
            (r["event_type"], r["device_type"]): r["share_percent"] or 0.0
            for r in devices.to_pylist()
        }
        present = [d for d in DEVICE_ORDER if any((e, d) in share for e in ("open", "click"))]
        extra = sorted({d for _, d in share} - set(DEVICE_ORDER))
        labels = present + extra
        positions = list(range(len(labels)))
        width = 0.4
        for offset, event in ((-width / 2, "open"), (width / 2, "click")):
            right.barh(
                [p + offset for p in positions],
                [share.get((event, d), 0.0) for d in labels],
                height=width,
                label=f"{event}s",
            )
        right.set_yticks(positions, labels)
        right.set_xlim(0, 100)
        right.set_xlabel("% of events")
        right.set_title("Device split", fontsize=10)
        right.legend(loc="lower right", fontsize=8)
        figure.suptitle(title, fontsize=11)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        pyplot.close(figure)


def markdown_image(png: bytes, alt: str) -> str:
    """The PNG as an inline markdown image."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"
