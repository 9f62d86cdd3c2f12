"""dbt over a lake of five Constant Contact accounts under one application.

`accounts_lake` runs one real `cc-assets refresh` of a sandbox application of five accounts of
different sizes with an accounts file: every account's complete lake under
`{root}/account=<name>/`, then the refresh's own `dbt build` over them all. The README's "open
rate by account and month" query, read from the README, is compared with each account's
sandbox ground truth, on DuckDB and on the Postgres target.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import psycopg.rows
import pyarrow.parquet as pq
import pytest

from cc_assets.constant_contact.schemas import ACCOUNT_SUMMARY
from cc_assets.defs.analytics.project import LAKE_ACCOUNTS
from cc_assets.lake.paths import lake_root, location, partition_file
from cc_assets.sandbox.process import SandboxServer
from cc_assets_tests.analytics.test_dbt import dbt_invocation, messages
from cc_assets_tests.fixtures.accounts import accounts_env
from cc_assets_tests.fixtures.services import load_lake_into_postgres
from cc_assets_tests.ingestion.test_refresh_cli import refresh
from cc_assets_tests.metrics.test_metrics import expected_counts, pct, same

README = Path(__file__).resolve().parents[2] / "README.md"
SIZES = (300, 800, 1500, 2500, 4000)
SANDBOX = {
    "seed": 11,
    "contacts": SIZES[0],
    "campaigns": 3,
    "requests_per_second": 0,
    "accounts": len(SIZES),
    "account_contacts": SIZES,
}
MARTS = (
    "dim_accounts",
    "fct_campaign_performance",
    "fct_campaign_activity_performance",
    "fct_engagement_curve",
    "fct_link_clicks",
    "fct_device_breakdown",
    "fct_activity_stats_daily",
    "fct_email_events",
    "dim_contact_engagement",
)


@dataclass(frozen=True)
class AccountsLake:
    """The lake of every account of `server` at `root` (one lake per account), its warehouse
    and the accounts file that names them."""

    server: SandboxServer
    root: Path
    warehouse: Path
    accounts_file: Path

    @property
    def names(self) -> list[str]:
        return [a["name"] for a in self.server.accounts]


@pytest.fixture(scope="module")
def accounts_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AccountsLake]:
    """One `cc-assets refresh` (no contact backlog, unthrottled) of five accounts of different
    sizes under one application, with an accounts file: the lake and the marts it builds."""
    home = tmp_path_factory.mktemp("accounts")
    with SandboxServer.start(**SANDBOX) as server:
        env = accounts_env(
            server,
            home,
            CONSTANT_CONTACT_REQUESTS_PER_SECOND="0",
            CC_ASSETS_DBT_TARGET="duckdb",
        )
        done = refresh(env, "--contact-calls", "0", timeout=900)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        yield AccountsLake(server, home / "lake", home / "warehouse.duckdb", home / "accounts.yaml")


def readme_query(title: str) -> str:
    """The one fenced SQL block of the README's part named `title`."""
    text = README.read_text()
    part = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    (query,) = re.findall(r"```sql\n(.*?)```", part, re.DOTALL)
    return query


def query(warehouse: Path, sql: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.sql(sql).to_arrow_table().to_pylist()


def month_of(moment: datetime | None) -> date | None:
    return None if moment is None else date(moment.year, moment.month, 1)


def assert_open_rates_equal_ground_truth(rows: list[dict[str, Any]], lake: AccountsLake) -> None:
    """`rows` of the README's query hold, for every account and month of first send, the
    unique opens and deliveries of exactly that account's activities by its sandbox ground
    truth (counted in plain Python from its reports), their ratio, and the account's id."""
    expected: dict[tuple[str, date | None], list[int]] = defaultdict(lambda: [0, 0])
    for account in lake.server.accounts:
        truth = lake.server.ground_truth(account["name"])
        for activity in truth.reportable_activities():
            counts = expected_counts(truth, activity["campaign_activity_id"])
            sums = expected[(account["name"], month_of(counts["first_send_time"]))]
            sums[0] += counts["opens"]
            sums[1] += counts["delivered"]
    identity = {a["name"]: a["encoded_account_id"] for a in lake.server.accounts}
    got = {(r["account"], r["month"]): r for r in rows}
    assert len(rows) == len(got) == len(expected)
    assert {name for name, _ in got} == set(lake.names)
    for key, (opens, delivered) in expected.items():
        row = got[key]
        assert (row["unique_opens"], row["delivered"]) == (opens, delivered), key
        assert same(float(row["open_rate"]), pct(opens, delivered)), key
        assert row["encoded_account_id"] == identity[key[0]], key


@pytest.mark.slow
def test_readme_open_rate_by_account_and_month_equals_each_accounts_ground_truth(
    accounts_lake: AccountsLake,
) -> None:
    """The README's query over the DuckDB marts, against every account's ground truth."""
    rows = query(accounts_lake.warehouse, readme_query("Many accounts in the marts"))
    assert_open_rates_equal_ground_truth(rows, accounts_lake)


@pytest.mark.slow
@pytest.mark.services
def test_postgres_loads_every_accounts_lake_and_answers_the_readme_query(
    accounts_lake: AccountsLake, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python -m cc_assets.lake.postgres_load` of the per-account lake (the accounts file
    set) adds each row's account from its folder; dbt's postgres target then answers the
    README's query with every account's ground truth."""
    monkeypatch.setenv("CC_ASSETS_ACCOUNTS", str(accounts_lake.accounts_file))
    monkeypatch.setenv("CC_ASSETS_STORAGE", str(accounts_lake.root))
    monkeypatch.setenv("CC_ASSETS_DBT_TARGET", "postgres")
    monkeypatch.setenv("CC_ASSETS_PG_DATABASE", pg_database)
    monkeypatch.setenv(LAKE_ACCOUNTS, "1")
    load_lake_into_postgres()
    invocation = dbt_invocation(["build", "--target", "postgres"])
    lines = list(messages(invocation))
    assert invocation.is_successful(), "\n".join(lines[-40:])
    with (
        psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={pg_database}") as conn,
        conn.cursor(row_factory=psycopg.rows.dict_row) as cur,
    ):
        cur.execute("SET TimeZone = 'UTC'")
        cur.execute(readme_query("Many accounts in the marts"))
        rows = cur.fetchall()
        cur.execute("select account, count(*) as n from cc_assets_raw.email_sends group by 1")
        sends = {r["account"]: r["n"] for r in cur.fetchall()}
    assert_open_rates_equal_ground_truth(rows, accounts_lake)
    for name in accounts_lake.names:
        truth = accounts_lake.server.ground_truth(name)
        ids = [a["campaign_activity_id"] for a in truth.reportable_activities()]
        assert sends[name] == sum(truth.tracking(a, "sends").num_rows for a in ids), name


@pytest.mark.slow
def test_each_accounts_marts_hold_only_its_own_activities(accounts_lake: AccountsLake) -> None:
    """Per account, the activity mart and the event fact hold exactly that account's sent
    activities; every mart row names its account and the account's encoded id."""
    warehouse = accounts_lake.warehouse
    activities = query(
        warehouse,
        "select account, campaign_activity_id from marts.fct_campaign_activity_performance",
    )
    events = query(
        warehouse,
        "select account, campaign_activity_id, count(*) as n from marts.fct_email_events "
        "group by 1, 2",
    )
    for name in accounts_lake.names:
        truth = accounts_lake.server.ground_truth(name)
        own = {a["campaign_activity_id"] for a in truth.reportable_activities()}
        assert {r["campaign_activity_id"] for r in activities if r["account"] == name} == own
        held = {r["campaign_activity_id"] for r in events if r["account"] == name}
        assert held and held <= own, name
        sends = sum(truth.tracking(a, "sends").num_rows for a in own)
        (counted,) = query(
            warehouse,
            "select count(*) as n from marts.fct_email_events "
            f"where account = '{name}' and event_type = 'send'",
        )
        assert counted["n"] == sends, name
    identity = {a["name"]: a["encoded_account_id"] for a in accounts_lake.server.accounts}
    for mart in MARTS:
        rows = query(warehouse, f"select account, encoded_account_id from marts.{mart}")
        assert rows, mart
        assert {r["account"] for r in rows} == set(accounts_lake.names), mart
        assert all(r["encoded_account_id"] == identity[r["account"]] for r in rows), mart


@pytest.mark.slow
def test_account_summary_lands_each_accounts_identity(accounts_lake: AccountsLake) -> None:
    """`constant_contact/account_summary` holds, in each account's lake, that account's name
    and what its `GET /account/summary` says; `dim_accounts` the same, one row each."""
    day = datetime.now(UTC).date().isoformat()
    for account in accounts_lake.server.accounts:
        root = lake_root(str(accounts_lake.root / f"account={account['name']}"))
        (row,) = pq.read_table(location(partition_file(ACCOUNT_SUMMARY, day, root))).to_pylist()
        assert (row["account"], row["encoded_account_id"], row["organization_name"]) == (
            account["name"],
            account["encoded_account_id"],
            account["organization_name"],
        )
    dims = query(
        accounts_lake.warehouse,
        "select account, encoded_account_id, organization_name from marts.dim_accounts",
    )
    assert sorted(dims, key=lambda r: r["account"]) == [
        {
            "account": a["name"],
            "encoded_account_id": a["encoded_account_id"],
            "organization_name": a["organization_name"],
        }
        for a in sorted(accounts_lake.server.accounts, key=lambda a: a["name"])
    ]
