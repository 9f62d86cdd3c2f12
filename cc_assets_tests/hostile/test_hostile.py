"""A hostile server in front of the sandbox: every case ends in time, lands the truth or
refuses the report whole, and never shows a secret or a raw traceback.

Each tracking case lands the report once through a clean proxy when `prior` (so there is a
previous partition to protect), then breaks one thing and refreshes again. "refused" means the
named error is raised, the partition file is byte-for-byte what it was (or still absent), and
the message names the endpoint and field or what to fix; "truth" means the partition equals
the sandbox's ground truth. Every case asserts that no secret (tokens, client secret, api key,
every bearer token the proxy saw or the token endpoint issued) appears in the error, the log
or the client's events.

| case | what breaks | expected |
|---|---|---|
| repeat_cursor | page 2's `next` is page 2 again (A → A) | refused: PaginationError |
| cycle | page 3 links back to page 2 (A → B → A) | refused: PaginationError |
| back_to_first | a later page links to the first page | refused: PaginationError |
| other_activity_href | `next` = same cursor, another activity's report | refused: PaginationError |
| other_report_href | `next` = this activity's `opens` report | refused: PaginationError |
| other_endpoint_href | `next` = `/v3/emails` | refused: PaginationError |
| dot_segments_href | `next` climbs out of the path with `..` | refused: PaginationError |
| foreign_host_href | `next` on another port (a trap) | refused: ForeignLinkError; trap unhit |
| lookalike_host_href | `next` on `127.0.0.1.evil.invalid` | refused: ForeignLinkError |
| next_href_number | `_links.next.href` is a number | refused: UnexpectedResponseError |
| links_list | `_links` is a list | refused: UnexpectedResponseError |
| endless_cursors | a new cursor every page, forever | refused: PaginationError (page budget) |
| repeat_cursor_full_read | A → A on `didnotopens` (read in full) | refused: PaginationError |
| never_answers | the request is accepted, never answered | refused: DeadlineExceededError |
| never_answers_once | the first request hangs, the retry is answered | truth |
| trickled_body | the body arrives a byte every 0.1 s | refused: DeadlineExceededError |
| truncated_once | the body cut in half once | truth (retried) |
| truncated_always | the body always cut in half | refused: MalformedResponseError |
| huge_body | an 80 MB body | refused: UnexpectedResponseError |
| bad_gzip | a body that claims gzip and is not | refused: MalformedResponseError |
| next_href_not_a_url | `next` is `http://[::1` | refused: ForeignLinkError |
| page_over_limit | 501+ rows on a page of limit 500 | refused: UnexpectedResponseError |
| body_list | the body is `[]` | refused: UnexpectedResponseError |
| body_null | the body is `null` | refused: UnexpectedResponseError |
| body_number | the body is `42` | refused: UnexpectedResponseError |
| body_string | the body is `"ok"` | refused: UnexpectedResponseError |
| rows_object | `tracking_activities` is an object | refused: UnexpectedResponseError |
| rows_missing | no `tracking_activities` key | refused: UnexpectedResponseError |
| row_not_object | a row is a number | refused: UnexpectedResponseError |
| missing_contact_id | a row without `contact_id` | refused: InvalidRowError contact_id |
| empty_contact_id | `contact_id` is "" | refused: InvalidRowError contact_id |
| contact_id_number | `contact_id` is a number | refused: InvalidRowError contact_id |
| email_object | `email_address` is an object | refused: InvalidRowError email_address |
| type_missing | no `tracking_activity_type` | refused: InvalidRowError |
| null_created_time | `created_time` is null | refused: InvalidRowError created_time |
| created_time_no_zone | `created_time` without an offset | refused: InvalidRowError created_time |
| created_time_garbage | `created_time` is "yesterday" | refused: InvalidRowError created_time |
| created_time_number | `created_time` is an epoch number | refused: InvalidRowError created_time |
| far_future_created_time | one event in 2099 (a poisoned watermark) | refused: InvalidRowError |
| future_beyond_date_header | an event 1 h after the response's `Date` | refused: InvalidRowError |
| wrong_activity_id | one row of another activity | refused: InvalidRowError campaign_activity_id |
| clicks_missing_url_id | a click without `url_id` | refused: InvalidRowError url_id |
| clicks_url_id_number | `url_id` as a number (documented) | truth |
| bounces_null_code | a bounce with a null `bounce_code` | refused: InvalidRowError bounce_code |
| duplicate_across_pages | page 1's first row repeated on the last page, first read | truth |
| duplicate_within_page | a click repeated on its page, incremental read | truth |
| wrong_content_type | valid JSON served as `text/plain` | truth |
| html_body | a 200 with an HTML page | refused: MalformedResponseError |
| status_401 | 401 for good (after a refresh) | refused: AuthenticationError, vars named |
| status_403 | 403 for good | refused: PermissionDeniedError |
| status_404 | 404 for good | refused: NotFoundError |
| status_500 | 500 for good | refused: ServerError |
| status_503 | 503 for good | refused: ServerError |
| retry_after_seconds | one 503 with `Retry-After: 2` | truth, the retry waited >= 2 s |
| retry_after_date | one 429 with `Retry-After` as an HTTP date | truth |
| echo_authorization | a 500 echoing the request's headers | refused: ServerError, nothing echoed |
| echo_401 | a 401 echoing the bearer token | refused: AuthenticationError, nothing echoed |
| refresh_invalid_grant | token endpoint: `invalid_grant` | refused: names ..._REFRESH_TOKEN |
| refresh_no_token | token endpoint answers 200 without a token | refused: UnexpectedResponseError |
| unreachable_host | nothing listens on the API port | refused: UnreachableError, ..._BASE_URL |

Discovery and detail calls (`test_discovery_shapes`): `/emails` as a list, a campaign id as a
number, `campaign_activities` as an object, an activity detail `null`, `send_history` as an
object, stats `results` as an object, stats `percents` as a list, `link_click_counts` as a
string, summaries without their list, a contact-activity row of another contact, the account
summary as a list or with a numeric `encoded_account_id`: each raises
UnexpectedResponseError naming the field. Settings (`test_settings_name_the_variable`): bad
numbers, negative limits, URLs that are not URLs, an unknown API version, v2 without a key or
a token: each raises ConfigurationError naming the variable. CLI (`test_cli_*`): `cc-assets
refresh` through the proxy with a refused token, an error body echoing the request, a `null`
body, an unreachable host: non-zero exit, no "Traceback", no secret.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from cc_assets.constant_contact import errors
from cc_assets.constant_contact.client import ConstantContactClient, retry_after_seconds
from cc_assets.constant_contact.schemas import TRACKING_TABLES
from cc_assets.constant_contact.settings import ClientSettings
from cc_assets.lake.paths import lake_root, partition_file
from cc_assets.pipeline.tracking import refresh_tracking
from cc_assets.sandbox.process import SandboxServer
from cc_assets.settings import load_settings
from cc_assets_tests.hostile.conftest import secrets_of, through
from cc_assets_tests.hostile.proxy import HostileProxy, TrapServer

Edit = Callable[[dict[str, Any], Any, Any], Any]


def _rows(change: Callable[[list[dict[str, Any]]], None]) -> Edit:
    def edit(body: dict[str, Any], request: Any, state: Any) -> dict[str, Any]:
        change(body["tracking_activities"])
        return body

    return edit


def _first(**values: Any) -> Edit:
    return _rows(lambda rows: rows[0].update(values))


def _drop_first(name: str) -> Edit:
    return _rows(lambda rows: rows[0].pop(name))


def _dup_across(body: dict[str, Any], request: Any, state: Any) -> dict[str, Any]:
    rows = body["tracking_activities"]
    if "next" not in request.query_params:
        state.memory["row"] = dict(rows[0])
    if not (body.get("_links") or {}).get("next"):
        rows.append(state.memory["row"])
    return body


def _numeric_url_ids(body: dict[str, Any], request: Any, state: Any) -> dict[str, Any]:
    for row in body["tracking_activities"]:
        row["url_id"] = int(row["url_id"])
    return body


def _future_of_date(body: dict[str, Any], request: Any, state: Any) -> dict[str, Any]:
    later = datetime.now(UTC) + timedelta(hours=1)
    body["tracking_activities"][0]["created_time"] = later.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return body


def _echo(request: Any) -> list[dict[str, str]]:
    headers = "; ".join(f"{k}: {v}" for k, v in request.headers.items())
    return [{"error_key": "server.error", "error_message": f"request was {headers}"}]


@dataclass(frozen=True)
class Case:
    name: str
    mode: str
    params: dict[str, Any] = field(default_factory=dict)
    expect: type[errors.ConstantContactError] | None = None  # None: the lake equals the truth
    says: str = ""  # a substring of the error message
    report: str = "sends"
    prior: bool = True
    target: str = "{report_path}"
    settings: dict[str, Any] = field(default_factory=dict)


OTHER = "/v3/reports/email_reports/{other}/tracking/sends?next={cursor}&limit=500"
FIRST_READ = {"prior": False}
REFRESH_REFUSED: dict[str, Any] = {
    "target": "{token_path}",
    "settings": {"access_token": "not-a-valid-token"},
}
CASES = [
    Case(
        "repeat_cursor",
        "repeat_cursor",
        expect=errors.PaginationError,
        says="repeats",
        **FIRST_READ,
    ),
    Case("cycle", "cycle", expect=errors.PaginationError, says="repeats", **FIRST_READ),
    Case("back_to_first", "back_to_first", expect=errors.PaginationError, **FIRST_READ),
    Case(
        "other_activity_href",
        "next_elsewhere",
        {"href": OTHER},
        errors.PaginationError,
        "leaves this report",
        **FIRST_READ,
    ),
    Case(
        "other_report_href",
        "next_elsewhere",
        {"href": "/v3/reports/email_reports/{aid}/tracking/opens?next={cursor}"},
        errors.PaginationError,
        "leaves this report",
        **FIRST_READ,
    ),
    Case(
        "other_endpoint_href",
        "next_elsewhere",
        {"href": "/v3/emails?limit=500"},
        errors.PaginationError,
        "/v3/emails",
        **FIRST_READ,
    ),
    Case(
        "dot_segments_href",
        "next_elsewhere",
        {"href": "/v3/reports/email_reports/{aid}/tracking/sends/../../../{other}/tracking/sends"},
        errors.PaginationError,
        **FIRST_READ,
    ),
    Case(
        "foreign_host_href",
        "next_elsewhere",
        {"href": "{trap}/v3/reports/email_reports/{aid}/tracking/sends?next={cursor}"},
        errors.ForeignLinkError,
        "another host",
        **FIRST_READ,
    ),
    Case(
        "lookalike_host_href",
        "next_elsewhere",
        {"href": "{proxy}.evil.invalid/v3/reports/email_reports/{aid}/tracking/sends"},
        errors.ForeignLinkError,
        **FIRST_READ,
    ),
    Case(
        "next_href_number",
        "next_value",
        {"value": 12345},
        errors.UnexpectedResponseError,
        "href",
        **FIRST_READ,
    ),
    Case(
        "links_list",
        "next_value",
        {"value": [], "whole_links": True},
        errors.UnexpectedResponseError,
        "_links",
        **FIRST_READ,
    ),
    Case(
        "endless_cursors",
        "endless",
        expect=errors.PaginationError,
        says="more than",
        settings={"expected_rows": True},
        **FIRST_READ,
    ),
    Case(
        "repeat_cursor_full_read",
        "repeat_cursor",
        expect=errors.PaginationError,
        report="didnotopens",
    ),
    Case(
        "never_answers", "never_answers", expect=errors.DeadlineExceededError, says="did not answer"
    ),
    Case("never_answers_once", "never_answers", {"times": 1}),
    Case("trickled_body", "trickle", expect=errors.DeadlineExceededError, says="took over"),
    Case("truncated_once", "truncate", {"times": 1}, **FIRST_READ),
    Case("truncated_always", "truncate", expect=errors.MalformedResponseError),
    Case("huge_body", "huge_body", expect=errors.UnexpectedResponseError, says="bytes"),
    Case("bad_gzip", "bad_gzip", expect=errors.MalformedResponseError, says="Content-Encoding"),
    Case(
        "next_href_not_a_url",
        "next_value",
        {"value": "http://[::1"},
        errors.ForeignLinkError,
        "another host",
        **FIRST_READ,
    ),
    Case(
        "page_over_limit",
        "edit_body",
        {"edit": _rows(lambda rows: rows.extend([rows[0]] * 501))},
        errors.UnexpectedResponseError,
        "over the limit",
    ),
    Case(
        "body_list",
        "replace_body",
        {"body": []},
        errors.UnexpectedResponseError,
        "expected an object",
    ),
    Case("body_null", "replace_body", {"body": None}, errors.UnexpectedResponseError, "got null"),
    Case("body_number", "replace_body", {"body": 42}, errors.UnexpectedResponseError, "got int"),
    Case("body_string", "replace_body", {"body": "ok"}, errors.UnexpectedResponseError, "got str"),
    Case(
        "rows_object",
        "replace_body",
        {"body": {"tracking_activities": {}}},
        errors.UnexpectedResponseError,
        "tracking_activities",
    ),
    Case(
        "rows_missing",
        "replace_body",
        {"body": {"_links": {}}},
        errors.UnexpectedResponseError,
        "tracking_activities: missing",
    ),
    Case(
        "row_not_object",
        "replace_body",
        {"body": {"tracking_activities": [1, 2]}},
        errors.UnexpectedResponseError,
        "tracking_activities[0]",
    ),
    Case(
        "missing_contact_id",
        "edit_body",
        {"edit": _drop_first("contact_id")},
        errors.InvalidRowError,
        "contact_id",
    ),
    Case(
        "empty_contact_id",
        "edit_body",
        {"edit": _first(contact_id="")},
        errors.InvalidRowError,
        "empty",
    ),
    Case(
        "contact_id_number",
        "edit_body",
        {"edit": _first(contact_id=12345)},
        errors.InvalidRowError,
        "contact_id",
    ),
    Case(
        "email_object",
        "edit_body",
        {"edit": _first(email_address={"a": 1})},
        errors.InvalidRowError,
        "email_address",
    ),
    Case(
        "type_missing",
        "edit_body",
        {"edit": _drop_first("tracking_activity_type")},
        errors.InvalidRowError,
        "tracking_activity_type",
    ),
    Case(
        "null_created_time",
        "edit_body",
        {"edit": _first(created_time=None)},
        errors.InvalidRowError,
        "created_time",
    ),
    Case(
        "created_time_no_zone",
        "edit_body",
        {"edit": _first(created_time="2026-11-19T10:00:00")},
        errors.InvalidRowError,
        "zone offset",
    ),
    Case(
        "created_time_garbage",
        "edit_body",
        {"edit": _first(created_time="yesterday")},
        errors.InvalidRowError,
        "created_time",
    ),
    Case(
        "created_time_number",
        "edit_body",
        {"edit": _first(created_time=1_763_600_000)},
        errors.InvalidRowError,
        "created_time",
    ),
    Case(
        "far_future_created_time",
        "edit_body",
        {"edit": _first(created_time="2099-01-01T00:00:00.000Z")},
        errors.InvalidRowError,
        "later than the response",
    ),
    Case(
        "future_beyond_date_header",
        "edit_body",
        {"edit": _future_of_date},
        errors.InvalidRowError,
        "later than the response",
    ),
    Case(
        "wrong_activity_id",
        "edit_body",
        {"edit": _first(campaign_activity_id="another-activity")},
        errors.InvalidRowError,
        "campaign_activity_id",
    ),
    Case(
        "clicks_missing_url_id",
        "edit_body",
        {"edit": _drop_first("url_id")},
        errors.InvalidRowError,
        "url_id",
        report="clicks",
    ),
    Case("clicks_url_id_number", "edit_body", {"edit": _numeric_url_ids}, report="clicks"),
    Case(
        "bounces_null_code",
        "edit_body",
        {"edit": _first(bounce_code=None)},
        errors.InvalidRowError,
        "bounce_code",
        report="bounces",
    ),
    Case("duplicate_across_pages", "edit_body", {"edit": _dup_across}, **FIRST_READ),
    Case(
        "duplicate_within_page",
        "edit_body",
        {"edit": _rows(lambda rows: rows.insert(1, dict(rows[0])))},
        report="clicks",
    ),
    Case(
        "wrong_content_type",
        "edit_body",
        {"edit": _rows(lambda rows: None), "headers": {"content-type": "text/plain"}},
    ),
    Case(
        "html_body",
        "replace_body",
        {"body": b"<html><body>Service Unavailable</body></html>", "content_type": "text/html"},
        errors.MalformedResponseError,
    ),
    Case(
        "status_401",
        "status",
        {"status": 401},
        errors.AuthenticationError,
        "CONSTANT_CONTACT_CLIENT_ID",
    ),
    Case("status_403", "status", {"status": 403}, errors.PermissionDeniedError, "403"),
    Case("status_404", "status", {"status": 404}, errors.NotFoundError, "404"),
    Case("status_500", "status", {"status": 500}, errors.ServerError, "500"),
    Case("status_503", "status", {"status": 503}, errors.ServerError, "503"),
    Case("retry_after_seconds", "status", {"status": 503, "times": 1, "retry_after": 2}),
    Case("retry_after_date", "status", {"status": 429, "times": 1, "retry_after": "date:1"}),
    Case("echo_authorization", "status", {"status": 500, "body": _echo}, errors.ServerError),
    Case("echo_401", "status", {"status": 401, "body": _echo}, errors.AuthenticationError),
    *(
        Case(name, "status", {"status": status, "body": body}, error, says, **REFRESH_REFUSED)
        for name, status, body, error, says in (
            (
                "refresh_invalid_grant",
                400,
                {"error": "invalid_grant"},
                errors.AuthenticationError,
                "CONSTANT_CONTACT_REFRESH_TOKEN",
            ),
            ("refresh_no_token", 200, {}, errors.UnexpectedResponseError, "access_token"),
        )
    ),
    Case(
        "unreachable_host",
        "pass",
        expect=errors.UnreachableError,
        says="CONSTANT_CONTACT_BASE_URL",
        settings={"base_url": "closed-port"},
    ),
]


@pytest.fixture(scope="module")
def activities(sandbox: SandboxServer) -> tuple[str, str]:
    """The activity with the most sends (three pages of them) and another one."""
    truth = sandbox.ground_truth()
    ids = sorted(
        (a["campaign_activity_id"] for a in truth.reportable_activities()),
        key=lambda aid: truth.tracking(aid, "sends").num_rows,
    )
    return ids[-1], ids[0]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def _assert_truth(path: Path, server: SandboxServer, aid: str, report: str) -> None:
    got = pq.read_table(path).drop_columns(["captured_at"])
    expected = server.ground_truth().tracking(aid, report)
    order = [("created_time", "descending"), ("contact_id", "ascending")]
    if "url_id" in got.column_names:
        order.append(("url_id", "ascending"))
    assert got.num_rows == expected.num_rows
    assert got.sort_by(order).equals(expected.sort_by(order))


def assert_no_secret(texts: list[str], secrets: set[str]) -> None:
    joined = "\n".join(texts)
    leaked = [s[:6] + "…" for s in secrets if s in joined]
    assert not leaked, f"secrets in the output: {leaked}"
    assert "Bearer ey" not in joined and "Traceback" not in joined


@pytest.mark.timeout(90)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_tracking(
    case: Case,
    sandbox: SandboxServer,
    proxy: HostileProxy,
    trap: TrapServer,
    activities: tuple[str, str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    aid, other = activities
    report_path = f"/v3/reports/email_reports/{aid}/tracking/{case.report}"
    token_path = sandbox.token_url.replace(sandbox.root_url, "")
    names = {"aid": aid, "other": other, "trap": trap.url, "proxy": proxy.url, "cursor": "{cursor}"}
    params = {k: v.format(**names) if k == "href" else v for k, v in case.params.items()}
    overrides = dict(case.settings)
    expected_rows = None
    if overrides.pop("expected_rows", False):
        expected_rows = sandbox.ground_truth().tracking(aid, case.report).num_rows
    if overrides.get("base_url") == "closed-port":
        overrides["base_url"] = f"http://127.0.0.1:{_closed_port()}/v3"
    root = lake_root(str(tmp_path / "lake"))
    target = Path(str(partition_file(TRACKING_TABLES[case.report], aid, root)))
    events: list[str] = []

    def refresh(client: ConstantContactClient) -> None:
        refresh_tracking(
            client,
            aid,
            case.report,
            captured_at=sandbox.now(),
            root=root,
            expected_rows=expected_rows,
        )

    if case.prior:
        with ConstantContactClient(through(proxy, sandbox)) as client:
            refresh(client)
        assert target.exists()
    before = _digest(target)
    proxy.reset(
        case.mode,
        case.target.format(report_path=report_path, token_path=token_path),
        **params,
    )
    message = ""
    with ConstantContactClient(through(proxy, sandbox, **overrides), on_event=events.append) as c:
        if case.expect is None:
            refresh(c)
            _assert_truth(target, sandbox, aid, case.report)
        else:
            with pytest.raises(case.expect) as caught:
                refresh(c)
            message = str(caught.value)
            assert case.says in message
            assert _digest(target) == before, "a refused report changed the lake"
    if case.name == "foreign_host_href":
        assert trap.seen == []
    if case.name == "retry_after_seconds":
        first, second = proxy.state.memory["times"][:2]
        assert second - first >= 2  # a lower bound: waiting longer is always allowed
    assert_no_secret([message, caplog.text, *events], secrets_of(sandbox, proxy))


# --- discovery and detail calls ------------------------------------------------------------
CALLS: dict[str, Callable[[ConstantContactClient, dict[str, str]], Any]] = {
    "campaigns": lambda c, ids: list(c.iter_campaigns()),
    "campaign": lambda c, ids: c.get_campaign(ids["campaign"]),
    "activity": lambda c, ids: c.get_activity(ids["aid"]),
    "send_history": lambda c, ids: c.get_send_history(ids["aid"]),
    "activity_stats": lambda c, ids: c.get_activity_stats([ids["aid"]]),
    "campaign_stats": lambda c, ids: c.get_campaign_stats([ids["campaign"]]),
    "links": lambda c, ids: c.get_links(ids["aid"]),
    "summaries": lambda c, ids: list(c.iter_campaign_summaries()),
    "contact": lambda c, ids: list(c.iter_contact_activity(ids["contact"])),
    "identity": lambda c, ids: c.get_account_identity(),
}
OTHER_CONTACT_ROW = {
    "contact_id": "someone-else",
    "campaign_activity_id": "a",
    "tracking_activity_type": "em_opens",
    "created_time": "2026-11-19T10:00:00.000Z",
}
SHAPES: list[tuple[str, str, Any, str, str]] = [
    # name, path broken, body served, call, what the error says
    ("emails_list", "/v3/emails", [], "campaigns", "expected an object"),
    ("campaign_id_number", "/v3/emails", {"campaigns": [{"campaign_id": 7}]}, "campaigns", "[0]"),
    ("activities_object", "/v3/emails/{campaign}", {"campaign_activities": {}}, "campaign", "list"),
    ("activity_null", "/v3/emails/activities/{aid}", None, "activity", "got null"),
    ("history_object", "/v3/emails/activities/{aid}/send_history", {}, "send_history", "a list"),
    (
        "stats_results_object",
        "/v3/reports/stats/email_campaign_activities/{aid}",
        {"results": {"stats": {}}},
        "activity_stats",
        "results",
    ),
    (
        "stats_percents_list",
        "/v3/reports/stats/email_campaigns/{campaign}",
        {"results": [{"campaign_id": "x", "stats": {}, "percents": [1]}]},
        "campaign_stats",
        "percents",
    ),
    (
        "links_string",
        "/v3/reports/email_reports/{aid}/links",
        {"link_click_counts": "none"},
        "links",
        "link_click_counts",
    ),
    (
        "summaries_missing",
        "/v3/reports/summary_reports/email_campaign_summaries",
        {"aggregate_percents": {}},
        "summaries",
        "bulk_email_campaign_summaries: missing",
    ),
    (
        "contact_activity_other_contact",
        "/v3/reports/contact_reports/{contact}/activity_details",
        {"tracking_activities": [OTHER_CONTACT_ROW]},
        "contact",
        "contact_id",
    ),
    ("account_list", "/v3/account/summary", [], "identity", "expected an object"),
    (
        "account_id_number",
        "/v3/account/summary",
        {"encoded_account_id": 7, "organization_name": "x"},
        "identity",
        "encoded_account_id",
    ),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("name", "path", "body", "call", "says"), SHAPES, ids=[s[0] for s in SHAPES]
)
def test_discovery_shapes(
    name: str,
    path: str,
    body: Any,
    call: str,
    says: str,
    sandbox: SandboxServer,
    proxy: HostileProxy,
    activities: tuple[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    truth = sandbox.ground_truth()
    aid = activities[0]
    activity = next(a for a in truth.reportable_activities() if a["campaign_activity_id"] == aid)
    contact = truth.tracking(aid, "opens")["contact_id"][0].as_py()
    ids = {"aid": aid, "campaign": activity["campaign_id"], "contact": contact}
    proxy.reset("replace_body", path.format(**ids), body=body)
    with ConstantContactClient(through(proxy, sandbox)) as client:
        with pytest.raises(errors.UnexpectedResponseError) as caught:
            CALLS[call](client, ids)
        assert client.calls == 1, "a wrong shape is not retried"
    assert says in str(caught.value)
    assert_no_secret([str(caught.value), caplog.text], secrets_of(sandbox, proxy))


# --- settings --------------------------------------------------------------------------------
SETTINGS = [
    ({"CONSTANT_CONTACT_REQUESTS_PER_SECOND": "abc"}, "CONSTANT_CONTACT_REQUESTS_PER_SECOND"),
    ({"CONSTANT_CONTACT_REQUESTS_PER_SECOND": "-1"}, "CONSTANT_CONTACT_REQUESTS_PER_SECOND"),
    ({"CONSTANT_CONTACT_REQUESTS_PER_SECOND": "nan"}, "CONSTANT_CONTACT_REQUESTS_PER_SECOND"),
    ({"CONSTANT_CONTACT_DAILY_QUOTA": "1.5"}, "CONSTANT_CONTACT_DAILY_QUOTA"),
    ({"CONSTANT_CONTACT_DAILY_QUOTA": "-3"}, "CONSTANT_CONTACT_DAILY_QUOTA"),
    ({"CONSTANT_CONTACT_MAX_ATTEMPTS": "many"}, "CONSTANT_CONTACT_MAX_ATTEMPTS"),
    ({"CONSTANT_CONTACT_AUTHORIZE_URL": "authz"}, "CONSTANT_CONTACT_AUTHORIZE_URL"),
    ({"CONSTANT_CONTACT_BASE_URL": "not-a-url"}, "CONSTANT_CONTACT_BASE_URL"),
    ({"CONSTANT_CONTACT_BASE_URL": "ftp://api.cc.email/v3"}, "CONSTANT_CONTACT_BASE_URL"),
    ({"CONSTANT_CONTACT_TOKEN_URL": "not-a-url"}, "CONSTANT_CONTACT_TOKEN_URL"),
    ({"CONSTANT_CONTACT_API_VERSION": "v9"}, "CONSTANT_CONTACT_API_VERSION"),
    ({"CONSTANT_CONTACT_API_VERSION": "v2"}, "CONSTANT_CONTACT_API_KEY"),
    (
        {"CONSTANT_CONTACT_API_VERSION": "v2", "CONSTANT_CONTACT_API_KEY": "k" * 20},
        "CONSTANT_CONTACT_ACCESS_TOKEN",
    ),
]


@pytest.mark.parametrize(("env", "variable"), SETTINGS, ids=[v for _, v in SETTINGS])
def test_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    base = {} if "CONSTANT_CONTACT_API_KEY" in env else {"CONSTANT_CONTACT_ACCESS_TOKEN": "t" * 20}
    with pytest.raises(errors.ConfigurationError) as caught:
        ClientSettings.from_env({**base, **env})
    assert caught.value.variable == variable
    assert str(caught.value).startswith(variable) and "\n" not in str(caught.value)
    assert "t" * 20 not in str(caught.value) and "k" * 20 not in str(caught.value)


@pytest.mark.parametrize("minutes", ["0", "abc", "2.5", "-5", "1441"])
def test_the_discovery_interval_names_its_variable(minutes: str) -> None:
    settings = load_settings({"CC_ASSETS_DISCOVERY_MINUTES": minutes})
    with pytest.raises(errors.ConfigurationError) as caught:
        _ = settings.discovery_ticks_per_day
    assert caught.value.variable == "CC_ASSETS_DISCOVERY_MINUTES" and minutes in str(caught.value)
    assert load_settings({"CC_ASSETS_DISCOVERY_MINUTES": "30"}).discovery_ticks_per_day == 48
    assert load_settings({}).discovery_ticks_per_day == 288


def test_zero_means_no_local_limit() -> None:
    settings = ClientSettings.from_env(
        {"CONSTANT_CONTACT_REQUESTS_PER_SECOND": "0", "CONSTANT_CONTACT_DAILY_QUOTA": "0"}
    )
    assert (settings.requests_per_second, settings.daily_quota) == (0, 0)


def test_retry_after_is_read_in_both_forms_and_capped() -> None:
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    assert retry_after_seconds("3") == 3
    assert retry_after_seconds("Fri, 20 Nov 2026 12:00:10 GMT", now) == 10
    assert retry_after_seconds("999999") == 60
    assert retry_after_seconds("-5") == 0
    assert retry_after_seconds("soon") is None and retry_after_seconds("inf") is None


# --- the CLI -------------------------------------------------------------------------------
CLI = str(Path(sys.executable).with_name("cc-assets"))
CLI_CASES = [
    ("refused_token", "status", {"status": 401}, {"CONSTANT_CONTACT_CLIENT_ID": ""}),
    ("echoed_request", "status", {"status": 400, "body": _echo}, {}),
    ("null_body", "replace_body", {"body": None}, {}),
    ("unreachable", "pass", {}, {"CONSTANT_CONTACT_BASE_URL": "closed-port"}),
]


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    ("name", "mode", "params", "env"), CLI_CASES, ids=[c[0] for c in CLI_CASES]
)
def test_cli_fails_in_one_clean_line(
    name: str,
    mode: str,
    params: dict[str, Any],
    env: dict[str, str],
    sandbox: SandboxServer,
    proxy: HostileProxy,
    tmp_path: Path,
) -> None:
    values = {
        **os.environ,
        **sandbox.client_env(),
        "CONSTANT_CONTACT_BASE_URL": f"{proxy.url}/v3",
        "CONSTANT_CONTACT_TOKEN_URL": sandbox.token_url.replace(sandbox.root_url, proxy.url),
        "CONSTANT_CONTACT_REQUESTS_PER_SECOND": "0",
        "CC_ASSETS_STORAGE": str(tmp_path / "lake"),
        "CC_ASSETS_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
        "CC_ASSETS_STATE_DIR": str(tmp_path / "state"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        **env,
    }
    if values["CONSTANT_CONTACT_BASE_URL"] == "closed-port":
        values["CONSTANT_CONTACT_BASE_URL"] = f"http://127.0.0.1:{_closed_port()}/v3"
    (tmp_path / "dagster_home").mkdir()
    proxy.reset(mode, "/v3/emails", **params)
    done = subprocess.run(
        [CLI, "refresh"], env=values, capture_output=True, text=True, timeout=840, check=False
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert_no_secret([done.stdout, done.stderr], secrets_of(sandbox, proxy))
