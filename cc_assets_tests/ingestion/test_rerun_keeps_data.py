"""A rerun never holds less of the truth: two refreshes on the same day, new events between.

Every raw asset's second materialization holds every entity (and, for event reports, every
event) of the first, except what the API itself dropped since (a `didnotopens` contact who has
opened); the day's contact reports merge both captures; an optional source that fails on the
rerun keeps the earlier capture's value instead of a null.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from upath import UPath

from cc_assets.constant_contact.schemas import RAW_TABLES, SNAPSHOT_DATE, TRACKING_TABLES
from cc_assets.defs.ingestion.assets import (
    account_summary,
    contact_activity_details,
    email_campaign_activity_stats,
    email_campaign_stats,
    email_campaign_summaries,
    email_campaigns,
)
from cc_assets.pipeline import snapshots
from cc_assets.pipeline.contact_backlog import LANDING_PAGE_TYPES
from cc_assets.sandbox.process import SandboxServer
from cc_assets_tests.fixtures.sandbox import SMALL_ACCOUNT
from cc_assets_tests.ingestion.conftest import RESOURCES, materialize_activity, point_at

DAILY = [account_summary, email_campaigns, email_campaign_summaries, email_campaign_stats]
Lake = dict[tuple[str, str], pa.Table]


def _lake(root: Path) -> Lake:
    return {
        (path.parent.parent.name, path.parent.name): pq.read_table(path)
        for path in (root / "constant_contact").glob("*/*/part-0.parquet")
    }


def _refresh(instance: dg.DagsterInstance, activities: list[str]) -> None:
    day = datetime.now(UTC).date().isoformat()
    for assets in (DAILY, [email_campaign_activity_stats]):
        dg.materialize(assets, instance=instance, resources=RESOURCES, partition_key=day)
    for activity_id in activities:
        assert materialize_activity(instance, activity_id).success
    dg.materialize(
        [contact_activity_details], instance=instance, resources=RESOURCES, partition_key=day
    )


@dataclass
class Reruns:
    server: SandboxServer
    first: Lake
    second: Lake
    no_history: str


@pytest.fixture(scope="module")
def reruns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reruns]:
    root = tmp_path_factory.mktemp("reruns")
    with (
        SandboxServer.start(**SMALL_ACCOUNT) as server,
        pytest.MonkeyPatch.context() as patch,
        dg.instance_for_test() as instance,
    ):
        env = {
            **server.client_env(),
            "CONSTANT_CONTACT_REQUESTS_PER_SECOND": "0",
            "CC_ASSETS_STORAGE": str(root / "lake"),
            "CC_ASSETS_STATE_DIR": str(root / "state"),
        }
        for name, value in env.items():
            patch.setenv(name, value)
        server.advance_clock(4 * 3600)  # an hour after a send finished: its events still arrive
        activities = [
            a["campaign_activity_id"] for a in server.ground_truth().reportable_activities()
        ]
        _refresh(instance, activities)
        first = _lake(root / "lake")
        server.advance_clock(6 * 3600)  # new opens, clicks, forwards... arrive
        no_history = activities[0]
        server.set_path_faults({f"/emails/activities/{no_history}/send_history$": 404})
        _refresh(instance, activities)
        yield Reruns(server, first, _lake(root / "lake"), no_history)


def _keys(table: pa.Table, columns: list[str]) -> set[tuple]:
    return set(zip(*(table[c].to_pylist() for c in columns), strict=True))


def _rows(table: pa.Table) -> set[tuple]:
    return {tuple(row.values()) for row in table.drop_columns(["captured_at"]).to_pylist()}


def _entity_columns(name: str) -> list[str]:
    return [c for c in RAW_TABLES[name].natural_key if c != SNAPSHOT_DATE]


EVENT_REPORTS = ["sends", "opens", "clicks", "forwards", "optouts", "bounces"]


@pytest.mark.parametrize("name", sorted(RAW_TABLES))
def test_second_materialization_holds_the_first(reruns: Reruns, name: str) -> None:
    partitions = [p for (asset, p) in reruns.first if asset == name]
    assert partitions, f"{name} landed on the first refresh"
    truth = reruns.server.ground_truth()
    for partition in partitions:
        before, after = reruns.first[(name, partition)], reruns.second[(name, partition)]
        columns = _entity_columns(name)
        assert len(_keys(after, columns)) == after.num_rows, "no entity or event is doubled"
        lost = _keys(before, columns) - _keys(after, columns)
        if name == TRACKING_TABLES["didnotopens"].name:
            # the API drops a contact from didnotopens once they open: gone from the truth too
            activity = partition.split("=", 1)[1]
            still = _keys(truth.tracking(activity, "didnotopens"), columns)
            assert not lost & still
        else:
            assert not lost, f"{name}[{partition}] lost {sorted(lost)[:3]}"
        if name in {TRACKING_TABLES[r].name for r in EVENT_REPORTS}:
            assert _rows(before) <= _rows(after), "every event of the first read is held"


def test_the_rerun_read_new_events(reruns: Reruns) -> None:
    """The reruns above are not vacuous: events arrived between them, and landed."""
    grew = [
        key
        for key, table in reruns.second.items()
        if key in reruns.first and table.num_rows > reruns.first[key].num_rows
    ]
    assert any(name == "email_opens" for name, _ in grew), sorted(grew)


def test_contact_reports_keep_every_contact_of_the_day(reruns: Reruns) -> None:
    ((_, day),) = [k for k in reruns.first if k[0] == "contact_activity_details"]
    before = reruns.first[("contact_activity_details", day)]
    after = reruns.second[("contact_activity_details", day)]
    assert set(before["contact_id"].to_pylist()) <= set(after["contact_id"].to_pylist())
    assert before.num_rows > 0 and after.num_rows >= before.num_rows
    truth = reruns.server.ground_truth()
    columns = list(truth.contact_activity(before["contact_id"][0].as_py()).column_names)
    landing_pages = pa.array(LANDING_PAGE_TYPES)
    for contact in sorted(set(after["contact_id"].to_pylist()))[:5]:
        got = after.filter(pc.equal(after["contact_id"], contact)).select(columns)
        want = truth.contact_activity(contact)
        want = want.filter(pc.is_in(want["tracking_activity_type"], landing_pages))
        # the merged day holds at least the landing-page activity the API shows now, once
        assert _keys(want, columns) <= _keys(got, columns)


def test_a_failed_optional_source_keeps_the_earlier_capture(reruns: Reruns) -> None:
    day = next(p for (asset, p) in reruns.first if asset == "email_campaigns")

    def row(lake: Lake) -> dict:
        table = lake[("email_campaigns", day)].to_pylist()
        return next(r for r in table if r["campaign_activity_id"] == reruns.no_history)

    before, after = row(reruns.first), row(reruns.second)
    assert before["sent_time"] is not None
    assert after["sent_time"] == before["sent_time"]
    assert after["captured_at"] == before["captured_at"], "labelled with its own capture time"
    others = [
        r
        for r in reruns.second[("email_campaigns", day)].to_pylist()
        if r["campaign_activity_id"] != reruns.no_history
    ]
    assert all(r["captured_at"] > before["captured_at"] for r in others)


def test_a_capture_from_before_a_new_column_is_kept_with_it_null(tmp_path: Path) -> None:
    """The day's earlier capture was written before `campaign_activity_type` was a column: a
    rerun that keeps its row (the rerun's call for it failed) gives that row the column, null."""
    table = RAW_TABLES["email_campaign_activity_stats"]
    day = datetime.now(UTC).date().isoformat()
    folder = tmp_path / "constant_contact" / table.name / f"{SNAPSHOT_DATE}={day}"
    folder.mkdir(parents=True)
    old = pa.schema([f for f in table.schema if f.name != "campaign_activity_type"])
    earlier = {"campaign_id": "c1", "campaign_activity_id": "a1", "em_sends": 7}
    pq.write_table(pa.Table.from_pylist([earlier], old), folder / "part-0.parquet")
    schema = pa.schema([f for f in table.schema if f.name not in ("captured_at", SNAPSHOT_DATE)])
    fresh = {"campaign_id": "c2", "campaign_activity_id": "a2", "campaign_activity_type": 10}
    capture = snapshots.Capture(pa.Table.from_pylist([fresh], schema), incomplete={("a1",)})
    merged = snapshots.merge_same_day(table, day, capture, UPath(tmp_path)).to_pylist()
    rows = {r["campaign_activity_id"]: r for r in merged}
    assert rows["a1"]["em_sends"] == 7 and rows["a1"]["campaign_activity_type"] is None
    assert rows["a2"]["campaign_activity_type"] == 10


def test_the_next_days_campaign_snapshot_reads_only_what_the_list_shows_changed(
    sandbox_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Today's `email_campaigns` over yesterday's: a campaign listed unchanged keeps
    yesterday's rows, so the snapshot costs the list call (and the calls of campaigns still to
    be sent) instead of three calls a campaign; its rows equal a full read's. A same-day rerun
    reads every campaign again."""
    server = sandbox_factory(campaigns=8)
    lake = {"CC_ASSETS_STORAGE": str(tmp_path / "lake")}
    point_at(server, monkeypatch, CC_ASSETS_STATE_DIR=str(tmp_path / "state"), **lake)
    day = datetime.now(UTC).date().isoformat()
    table = RAW_TABLES["email_campaigns"]
    with dg.instance_for_test() as instance:

        def snapshot() -> tuple[list[dict], int]:
            server.reset_requests()
            run = dg.materialize(
                [email_campaigns], instance=instance, resources=RESOURCES, partition_key=day
            )
            assert run.success
            rows = pq.read_table(
                tmp_path / "lake" / "constant_contact" / table.name / f"{SNAPSHOT_DATE}={day}"
            ).drop_columns(["captured_at", SNAPSHOT_DATE])
            key = ["campaign_id", "campaign_activity_id"]
            ordered = sorted(rows.to_pylist(), key=lambda r: tuple(r[c] for c in key))
            return ordered, len(server.requests()["log"])

        full, full_calls = snapshot()  # the first: every campaign read
        folder = tmp_path / "lake" / "constant_contact" / table.name
        (folder / f"{SNAPSHOT_DATE}={day}").rename(folder / f"{SNAPSHOT_DATE}=2026-01-01")
        kept, kept_calls = snapshot()  # over an earlier day's snapshot
        rerun, rerun_calls = snapshot()  # a same-day rerun
    assert kept == full == rerun
    listed = {r["campaign_id"] for r in full}
    assert kept_calls < full_calls - len(listed), (kept_calls, full_calls)
    assert rerun_calls == full_calls
