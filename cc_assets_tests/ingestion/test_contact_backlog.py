"""Contact reports read only landing-page activity, from a backlog that reaches every engaged
contact within days while spending only the day's leftover budget."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from upath import UPath

from cc_assets.constant_contact.client import ConstantContactClient
from cc_assets.constant_contact.schemas import CONTACT_ACTIVITY_DETAILS
from cc_assets.lake.writer import write_partition
from cc_assets.pipeline import contact_backlog
from cc_assets.settings import load_settings
from cc_assets_tests.ingestion.conftest import materialize_activity, point_at

RESERVED = 50  # kept for the rest of the day's scheduled work: 70 of the 120 calls are left


def _engaged(truth, activity_ids) -> set[str]:
    found = set()
    for aid in activity_ids:
        for report in contact_backlog.ENGAGEMENT_REPORTS:
            found |= set(truth.tracking(aid, report)["contact_id"].to_pylist())
    return found


def test_every_engaged_contacts_landing_page_activity_arrives(
    sandbox, lake, instance, monkeypatch, tmp_path
) -> None:
    point_at(sandbox, monkeypatch, CONSTANT_CONTACT_DAILY_QUOTA="120")
    truth = sandbox.ground_truth()
    ids = [a["campaign_activity_id"] for a in truth.reportable_activities()]
    for aid in ids:
        assert materialize_activity(instance, aid).success
    engaged = _engaged(truth, ids)
    root = UPath(lake)
    settings = load_settings().client()
    day = sandbox.now()
    per_day = []
    for n in range(40):  # simulated days, one snapshot each, each with a fresh daily count
        monkeypatch.setenv("CC_ASSETS_STATE_DIR", str(tmp_path / f"day-{n}"))
        sandbox.reset_requests()
        with ConstantContactClient(settings) as client:
            allowed = contact_backlog.daily_calls(client, RESERVED)
            batches = contact_backlog.landing_page_activity(client, root, day, RESERVED)
            write_partition(
                CONTACT_ACTIVITY_DETAILS,
                day.date().isoformat(),
                batches,
                captured_at=day,
                root=root,
            )
        log = sandbox.requests()["log"]
        per_day.append(len(log))
        assert allowed == 120 - RESERVED
        assert len(log) <= allowed, "never more than what the rest of the day leaves over"
        assert all("/contact_reports/" in path for _, path, _ in log)
        sandbox.reset_quota()
        if not contact_backlog.due_contacts(root, day, 10**6):
            break
        day += timedelta(days=1)
    assert not contact_backlog.due_contacts(root, day, 10**6), per_day
    files = sorted(
        (lake / "constant_contact" / "contact_activity_details").glob("*/part-0.parquet")
    )
    details = pa.concat_tables([pq.read_table(f) for f in files])
    assert set(details["tracking_activity_type"].to_pylist()) <= set(
        contact_backlog.LANDING_PAGE_TYPES
    )
    for contact in sorted(engaged):
        expected = truth.contact_activity(contact)
        expected = expected.filter(pc.starts_with(expected["tracking_activity_type"], "p_"))
        got = details.filter(pc.equal(details["contact_id"], contact))
        assert got.num_rows == expected.num_rows, contact
        if expected.num_rows:
            columns = expected.column_names
            assert (
                got.select(columns)
                .sort_by("created_time")
                .equals(expected.select(columns).sort_by("created_time"))
            )
    assert engaged & set(details["contact_id"].to_pylist()), "landing-page activity was found"

    sandbox.reset_requests()  # everyone read: the next day's snapshot reads nobody
    with ConstantContactClient(settings) as client:
        assert list(contact_backlog.landing_page_activity(client, root, day, RESERVED)) == []
    assert sandbox.requests()["log"] == []
