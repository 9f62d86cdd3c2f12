"""The activity picture: a well-formed SVG whose lines and bars are the metrics it is drawn from."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

import pyarrow as pa

from cc_assets.defs.metrics.charts import CURVE_BOX, SHARE_BOX, activity_svg, markdown_image

SVG = "{http://www.w3.org/2000/svg}"


def _draw() -> ET.Element:
    curve = pa.table(
        {
            "hours_since_send": [0, 1, 2, 5],
            "cumulative_unique_opens": [0, 40, 70, 80],
            "cumulative_unique_clicks": [0, 5, 9, 20],
        }
    )
    devices = pa.table(
        {
            "event_type": ["open", "open", "click", "open"],
            "device_type": ["computer", "mobile", "mobile", "smart <tv>"],
            "share_percent": [60.0, 30.0, 100.0, 10.0],
        }
    )
    return ET.fromstring(activity_svg(curve, devices, "Spring sale & more (primary_email)"))


def test_the_curve_steps_to_each_cumulative_count() -> None:
    root = _draw()
    left, top, width, height = CURVE_BOX
    lines = {line.get("class"): line.get("points") for line in root.iter(f"{SVG}polyline")}
    opens = [tuple(map(float, p.split(","))) for p in lines["opens"].split()]
    # the highest count (80 opens) reaches the top of the plot, at 5 h: the right edge
    assert opens[-1] == (left + width, top)
    assert opens[0] == (left, top + height)
    clicks = [tuple(map(float, p.split(","))) for p in lines["clicks"].split()]
    assert clicks[-1] == (left + width, round(top + height - height * 20 / 80, 1))
    xs = [x for x, _ in opens]
    assert xs == sorted(xs), "a step line only moves right"


def test_the_bars_are_the_device_shares() -> None:
    root = _draw()
    bars = {
        (bar.get("class"), bar.get("data-device")): float(bar.get("width"))
        for bar in root.iter(f"{SVG}rect")
        if bar.get("data-device")
    }
    width = SHARE_BOX[2]
    assert bars[("opens", "computer")] == width * 0.6
    assert bars[("clicks", "mobile")] == width
    assert bars[("clicks", "computer")] == 0.0
    assert bars[("opens", "smart <tv>")] == width * 0.1  # escaped, still one device
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "Spring sale & more (primary_email)" in texts


def test_markdown_image_is_a_data_uri_of_the_svg() -> None:
    svg = '<svg xmlns="http://www.w3.org/2000/svg"/>'
    image = markdown_image(svg, "alt")
    prefix = "![alt](data:image/svg+xml;base64,"
    assert image.startswith(prefix) and image.endswith(")")
    assert base64.b64decode(image[len(prefix) : -1]).decode() == svg
