"""The metric assets, really materialized over a lake written from the sandbox's ground truth."""

from __future__ import annotations

import base64
import math
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow.parquet as pq
import pytest

from cc_assets.defs.ingestion.partitions import CAMPAIGN_ACTIVITIES
from cc_assets.defs.ingestion.resources import LakeResource
from cc_assets.defs.metrics import compute
from cc_assets.defs.metrics.assets import (
    ACTIVITY_DEVICE_BREAKDOWN_KEY,
    ACTIVITY_ENGAGEMENT_KEY,
    CAMPAIGN_ENGAGEMENT_KEY,
    activity_metrics,
    activity_stats_daily,
    campaign_engagement,
)
from cc_assets.defs.metrics.tables import PERCENT_OF_RATE
from cc_assets.lake.paths import SHARED, stage_limits
from cc_assets_tests.metrics.lake import SNAPSHOT, account, build_lake
from cc_assets_tests.metrics.test_formulas import SEED_PERCENTS


def materialize_all(root: Path, activity_ids: list[str]) -> dg.DagsterInstance:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(CAMPAIGN_ACTIVITIES, activity_ids)
    resources = {"lake": LakeResource(storage=str(root))}
    for activity_id in activity_ids:
        result = dg.materialize(
            [activity_metrics],
            instance=instance,
            resources=resources,
            partition_key=activity_id,
        )
        assert result.success
        for check in result.get_asset_check_evaluations():
            assert check.passed, (check.check_name, check.metadata)
    result = dg.materialize([campaign_engagement], instance=instance, resources=resources)
    assert result.success
    for check in result.get_asset_check_evaluations():
        assert check.passed, (check.check_name, check.metadata)
    result = dg.materialize(
        [activity_stats_daily],
        instance=instance,
        resources=resources,
        partition_key=SNAPSHOT.isoformat(),
    )
    assert result.success
    return instance


def read(root: Path, name: str) -> list[dict[str, Any]]:
    folder = root / "email_metrics" / name
    files = sorted(folder.glob("**/part-*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def test_seed_example_gives_the_seed_documents_numbers(tmp_path: Path) -> None:
    truth = account("seed-example")
    ids = build_lake(truth, tmp_path)
    instance = materialize_all(tmp_path, ids)

    (row,) = read(tmp_path, "activity_engagement")
    assert row["campaign_id"] == truth.reportable_activities()[0]["campaign_id"]
    assert {k: row[k] for k in ("sends", "bounces", "delivered", "opens", "clicks")} == {
        "sends": 15,
        "bounces": 6,
        "delivered": 9,
        "opens": 6,
        "clicks": 2,
    }
    assert (row["forwards"], row["optouts"], row["not_opened"]) == (1, 1, 3)
    expected = SEED_PERCENTS
    assert {k: round(row[k], 1) for k in expected} == expected
    assert row["open_rate"] == pytest.approx(200 / 3)  # full precision, not rounded

    devices = {
        (r["event_type"], r["device_type"]): r for r in read(tmp_path, "activity_device_breakdown")
    }
    assert {k: v["events"] for k, v in devices.items()} == {
        ("open", "mobile"): 5,
        ("open", "other"): 1,
        ("click", "mobile"): 1,
        ("click", "other"): 1,
    }
    assert round(devices[("open", "mobile")]["share_percent"], 1) == 83.3

    (campaign,) = read(tmp_path, "campaign_engagement")
    assert {k: round(campaign[k], 1) for k in expected} == expected

    event = instance.get_latest_materialization_event(ACTIVITY_ENGAGEMENT_KEY)
    assert event is not None  # partitioned: latest of any partition
    metadata = event.asset_materialization.metadata
    assert metadata["open_rate"].value == pytest.approx(200 / 3)
    assert metadata["dagster/row_count"].value == 1
    assert [c.name for c in metadata["dagster/column_schema"].schema.columns][:3] == [
        "campaign_activity_id",
        "campaign_id",
        "sends",
    ]
    activity = truth.account.activity_by_id[row["campaign_activity_id"]]
    campaign = truth.account.campaign_by_id[activity.campaign_id]
    assert metadata["campaign_name"].value == campaign.name
    assert metadata["subject"].value == activity.subject
    assert metadata["sent_time"].value == activity.send_at.isoformat()
    assert metadata["engagement"].value.startswith("![engagement curve and device split](data:")
    svg = base64.b64decode(metadata["engagement"].value.split("base64,")[1].rstrip(")"))
    texts = [t.text for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text")]
    assert f"{campaign.name} ({activity.role})" in texts
    assert event.asset_materialization.tags["send_date"] == activity.send_at.date().isoformat()
    assert event.asset_materialization.tags["campaign_id"] == campaign.campaign_id

    curve = read(tmp_path, "activity_engagement_curve")
    assert [r["hours_since_send"] for r in curve] == list(range(len(curve)))
    assert curve[-1]["cumulative_unique_opens"] == 6 and curve[-1]["cumulative_unique_clicks"] == 2
    links = read(tmp_path, "activity_link_clicks")
    assert sum(r["unique_clicks"] for r in links) >= 2
    assert all(r["unique_clicks"] == r["reported_unique_clicks"] for r in links)
    (daily,) = read(tmp_path, "activity_stats_daily")
    assert {k: round(daily[k], 1) for k in expected} == expected
    assert instance.get_latest_materialization_event(CAMPAIGN_ENGAGEMENT_KEY) is not None
    assert instance.get_latest_materialization_event(ACTIVITY_DEVICE_BREAKDOWN_KEY) is not None


def pct(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else 100.0 * numerator / denominator


def expected_counts(truth, activity_id: str) -> dict[str, Any]:
    """An independent count from the ground-truth reports: plain Python over pyarrow rows."""

    def rows(report: str) -> list[dict[str, Any]]:
        return truth.tracking(activity_id, report).to_pylist()

    def unique(report: str) -> int:
        return len({r["contact_id"] for r in rows(report)})

    opens, clicks = rows("opens"), rows("clicks")
    sends, bounces, n_opens, n_clicks = (
        unique("sends"),
        unique("bounces"),
        unique("opens"),
        unique("clicks"),
    )
    return {
        "sends": sends,
        "bounces": bounces,
        "delivered": sends - bounces,
        "opens": n_opens,
        "opens_all": len(opens),
        "mobile_opens_all": sum(r["device_type"] in ("mobile", "tablet") for r in opens),
        "clicks": n_clicks,
        "clicks_all": len(clicks),
        "mobile_clicks_all": sum(r["device_type"] in ("mobile", "tablet") for r in clicks),
        "forwards": unique("forwards"),
        "optouts": unique("optouts"),
        "not_opened": max(sends - n_opens - bounces, 0),
        "first_open_time": min((r["created_time"] for r in opens), default=None),
        "first_send_time": min((r["created_time"] for r in rows("sends")), default=None),
    }


def expected_rates(c: dict[str, Any]) -> dict[str, float | None]:
    return {
        "open_rate": pct(c["opens"], c["delivered"]),
        "click_rate": pct(c["clicks"], c["opens"]),
        "click_through_rate": pct(c["clicks"], c["delivered"]),
        "bounce_rate": pct(c["bounces"], c["sends"]),
        "did_not_open_rate": pct(c["not_opened"], c["delivered"]),
        "unsubscribe_rate": pct(c["optouts"], c["delivered"]),
        "mobile_open_share": pct(c["mobile_opens_all"], c["opens_all"]),
        "desktop_open_share": pct(c["opens_all"] - c["mobile_opens_all"], c["opens_all"]),
        "mobile_click_share": pct(c["mobile_clicks_all"], c["clicks_all"]),
        "desktop_click_share": pct(c["clicks_all"] - c["mobile_clicks_all"], c["clicks_all"]),
    }


def same(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (
        a is not None and b is not None and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    )


def test_generated_lake_equals_an_independent_count(tmp_path: Path) -> None:
    truth = account()
    ids = build_lake(truth, tmp_path)
    assert len(ids) >= 3
    materialize_all(tmp_path, ids)
    campaign_of = {
        a["campaign_activity_id"]: a["campaign_id"] for a in truth.reportable_activities()
    }

    rows = {r["campaign_activity_id"]: r for r in read(tmp_path, "activity_engagement")}
    assert set(rows) == set(ids)
    for activity_id in ids:
        row, counts = rows[activity_id], expected_counts(truth, activity_id)
        assert row["campaign_id"] == campaign_of[activity_id]
        for name in (k for k in counts if not k.endswith("_time")):
            assert row[name] == counts[name], (activity_id, name)
        assert row["first_open_time"] == counts["first_open_time"]
        assert row["first_send_time"] == counts["first_send_time"]
        for name, value in expected_rates(counts).items():
            assert same(row[name], value), (activity_id, name, row[name], value)
        # CC's own stats agree with the events (the ground truth's stats are fresh)
        stats = truth.activity_stats(activity_id)
        assert (row["sends"], row["opens"], row["clicks"]) == (
            stats["em_sends"],
            stats["em_opens"],
            stats["em_clicks"],
        )

    devices = read(tmp_path, "activity_device_breakdown")
    for activity_id in ids:
        for event, report in (("open", "opens"), ("click", "clicks")):
            table = truth.tracking(activity_id, report).to_pylist()
            want: dict[str, int] = {}
            for r in table:
                want[r["device_type"] or "none"] = want.get(r["device_type"] or "none", 0) + 1
            got = {
                d["device_type"]: d
                for d in devices
                if d["campaign_activity_id"] == activity_id and d["event_type"] == event
            }
            assert {k: v["events"] for k, v in got.items()} == want
            for device, count in want.items():
                assert same(got[device]["share_percent"], pct(count, len(table)))

    assert_curve_and_links(truth, ids, tmp_path)

    campaigns = {r["campaign_id"]: r for r in read(tmp_path, "campaign_engagement")}
    assert set(campaigns) == set(campaign_of.values())
    for campaign_id, row in campaigns.items():
        members = [a for a, c in campaign_of.items() if c == campaign_id]
        per = [expected_counts(truth, a) for a in members]
        summed = {
            k: sum(p[k] for p in per)
            for k in per[0]
            if not k.endswith("_time") and k != "not_opened"
        }
        summed["not_opened"] = max(summed["sends"] - summed["opens"] - summed["bounces"], 0)
        assert row["activities"] == len(members)
        for name, value in summed.items():
            assert row[name] == value, (campaign_id, name)
        for name, value in expected_rates(summed).items():
            assert same(row[name], value), (campaign_id, name)
        percents = truth.campaign_stats(campaign_id)["percents"]
        for rate, key in PERCENT_OF_RATE.items():
            assert round(row[rate] or 0.0, 1) == round(percents[key], 1), (campaign_id, rate)


def assert_curve_and_links(truth, ids: list[str], root: Path) -> None:
    """The curve and the per-link clicks against plain Python over the ground truth."""
    curve = read(root, "activity_engagement_curve")
    links = read(root, "activity_link_clicks")
    for activity_id in ids:
        sends = truth.tracking(activity_id, "sends").to_pylist()
        send_time = min(r["created_time"] for r in sends)
        first: dict[str, dict[str, Any]] = {"opens": {}, "clicks": {}}
        newest = max(r["created_time"] for r in sends)
        for report, seen in first.items():
            for r in truth.tracking(activity_id, report).to_pylist():
                seen[r["contact_id"]] = min(
                    seen.get(r["contact_id"], r["created_time"]), r["created_time"]
                )
                newest = max(newest, r["created_time"])
        hours = min(14 * 24, int((newest - send_time).total_seconds() // 3600) + 1)
        rows = [r for r in curve if r["campaign_activity_id"] == activity_id]
        assert [r["hours_since_send"] for r in rows] == list(range(hours)), activity_id
        for r in rows:
            end = send_time + timedelta(hours=r["hours_since_send"] + 1)
            assert r["cumulative_unique_opens"] == sum(t < end for t in first["opens"].values())
            assert r["cumulative_unique_clicks"] == sum(t < end for t in first["clicks"].values())
        clicks = truth.tracking(activity_id, "clicks").to_pylist()
        want = {}
        for link in truth.links(activity_id).to_pylist():
            mine = [c for c in clicks if c["url_id"] == link["url_id"]]
            want[link["url_id"]] = (
                len({c["contact_id"] for c in mine}),
                len(mine),
                link["unique_clicks"],
            )
        got = {
            r["url_id"]: (r["unique_clicks"], r["clicks_all"], r["reported_unique_clicks"])
            for r in links
            if r["campaign_activity_id"] == activity_id
        }
        assert got == want, activity_id


def test_empty_lake_gives_a_zero_row_and_null_rates(tmp_path: Path) -> None:
    metrics = compute.compute_activities(dg_root(tmp_path), ["missing-activity"])
    (row,) = metrics.engagement.to_pylist()
    assert row["sends"] == 0 and row["campaign_id"] is None
    assert row["open_rate"] is None and row["click_rate"] is None
    assert metrics.devices.num_rows == metrics.curve.num_rows == metrics.links.num_rows == 0


def test_stale_stats_pass_with_a_lag_note(tmp_path: Path) -> None:
    truth = account("seed-example")
    (activity_id,) = build_lake(truth, tmp_path)
    engagement = compute.compute_activities(dg_root(tmp_path), [activity_id]).engagement
    row = engagement.to_pylist()[0] | {"sends": 999}
    assert not compute.reconcile_activity(row, dg_root(tmp_path)).passed
    lagging = row | {"last_event_time": row["last_event_time"] + timedelta(days=30)}
    found = compute.reconcile_activity(lagging, dg_root(tmp_path))
    assert found.passed and "stats lag" in found.metadata["note"]


def dg_root(path: Path):
    from upath import UPath  # noqa: PLC0415

    return UPath(str(path))


def test_the_whole_lake_computes_as_each_activity_alone(tmp_path: Path) -> None:
    """The lake read whole (the benchmark's call, activity partitions found by listing) and each
    activity asked for by id, on a connection bounded like a shared one or like a stage's own,
    give the same rows: the partitions are computed one at a time either way."""
    truth = account()
    ids = build_lake(truth, tmp_path)
    root = dg_root(tmp_path)
    now = datetime.now(UTC)
    whole = compute.compute_activities(root, None, now)
    alone = {a: compute.compute_activities(root, [a], now, SHARED) for a in ids}
    assert whole.engagement.num_rows == len(ids) > 1
    for name in ("engagement", "devices", "curve", "links"):
        rows = getattr(whole, name).to_pylist()
        assert rows, name
        assert rows == [r for a in sorted(ids) for r in getattr(alone[a], name).to_pylist()], name
    limits = stage_limits()
    assert 1 <= limits.threads <= 2
    assert 128 <= limits.memory_mb <= 256
