"""`cc-assets refresh`: the whole pipeline once, on the configured Dagster instance and API.

Settings are checked first, before any call (numbers, URLs, credentials for the API version,
writable lake, state folder and token store), then one call proves the credentials. Then the
daily snapshots, discovery from today's campaign snapshot (adds sent activities as
partitions), every activity's tracking reports, the contact reports and
what runs downstream (metrics, dbt), each as a named Dagster job. Progress goes to the
terminal; each failure is one line (its traceback is in the run log, and on the terminal with
`--verbose`); the run ends with a summary of what landed, failed and was deferred. Exit codes:
0 everything landed, 1 something failed or was deferred, 2 the command or a setting is wrong.

`cc-assets status`: how much of the account's history the lake holds, the calls the rest needs
(by CC's activity stats) and the day it is expected complete at the key's daily quota; no call.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cc_assets.constant_contact.authorize import DEFAULT_PORT
from cc_assets.constant_contact.errors import ConfigurationError, ConstantContactError
from cc_assets.instance import ensure_dagster_home
from cc_assets.pipeline.preflight import (
    FIRST_CALL_FATAL,
    SANDBOX_NOTICE,
    check_settings,
    reach_account,
    reach_accounts,
    sandbox_unless_credentials,
)
from cc_assets.pipeline.snapshots import BackfillRefusedError, require_today
from cc_assets.progress import account_prefix, say
from cc_assets.settings import load_settings

if TYPE_CHECKING:
    from cc_assets.run_summary import Item, Summary


def error_line(message: str) -> None:
    print(f"cc-assets: {message}", file=sys.stderr, flush=True)


def print_summary(summary: Summary, verbose: bool) -> None:
    """The closing lines: counts, landed per asset, then every failure and deferral by name;
    on stderr each failure in one line, or one line an account with an accounts file."""
    from cc_assets.defs.ingestion.partitions import account_of  # noqa: PLC0415 (Dagster's)

    print(
        f"summary: {len(summary.landed)} landed, {len(summary.failed)} failed, "
        f"{len(summary.deferred)} deferred, {len(summary.warnings)} landed with warnings, "
        f"{len(summary.unchanged)} unchanged (nothing new to read)",
        flush=True,
    )
    for asset, count in sorted(Counter(i.asset for i in summary.landed).items()):
        print(f"  landed    {asset}: {count} partition(s)" if count > 1 else f"  landed    {asset}")
    for item in summary.warnings:
        print(f"  warning   {item.name}: {item.reason}")
    for item in summary.failed:
        print(f"  FAILED    {item.name}: {item.reason}")
    for item in summary.deferred:
        print(f"  deferred  {item.name}: {item.reason}")
    for account, progress in summary.history.items():
        print(f"  {account_prefix(account)}{progress.line()}")
    for account, line in summary.fatal.items():
        error_line(f"{account_prefix(account)}{line}")
    refusals = set(summary.fatal.values())
    failed = [item for item in summary.failed if item.reason not in refusals]
    by_account: dict[str | None, list[Item]] = {}
    for item in failed:
        by_account.setdefault(account_of(item.partition), []).append(item)
    for account, items in by_account.items():
        if account is None:  # the single account's, or no account's (dbt): one line each
            for item in items:
                error_line(f"failed: {item.name}: {item.reason}")
        elif account not in summary.fatal:  # an account: one line
            more = f" (and {len(items) - 1} more)" if len(items) > 1 else ""
            error_line(f"account {account}: failed: {items[0].name}: {items[0].reason}{more}")
    if verbose:
        for traceback in summary.tracebacks:
            print(traceback, file=sys.stderr)
    elif summary.tracebacks:
        print(
            "tracebacks: in the Dagster run log (`make ui`), or rerun with --verbose",
            file=sys.stderr,
        )


def refresh(
    day: str, verbose: bool, contact_calls: int | None = None, only: str | None = None
) -> int:
    """Validate the settings and make each account's first call, then run the jobs. Dagster
    and the stages' modules are imported only after both, so a misconfiguration or a refused
    account is one line within seconds; dbt (and its manifest) only in the dbt stage's own
    process. With an accounts file an account whose first call is refused is failed on that
    line and the others are refreshed; `only` refreshes one account of the file."""
    require_today(day)
    project = load_settings()
    accounts = check_settings(project)
    named = bool(project.account_names())  # an accounts file: lines name their account
    if not named and sandbox_unless_credentials(accounts[0].settings) is not None:
        say(SANDBOX_NOTICE)
        accounts = load_settings().accounts()
    if only is not None:
        accounts = tuple(a for a in accounts if named and a.name == only)
        if not accounts:
            listed = ", ".join(project.account_names()) or "no accounts file is set"
            raise ConfigurationError("--account", f"{only!r} is not an account of {listed}")
    refused: dict[str | None, str] = {}
    if named:
        refused.update(reach_accounts(accounts, on_event=say))
        for name in refused:
            say(f"{account_prefix(name)}refused; refreshing the other accounts")
    else:
        say("checking the account...")
        try:
            reach_account(accounts[0].settings, on_event=say)
        except FIRST_CALL_FATAL as error:
            error_line(f"{type(error).__name__}: {error}")
            return 1
        except ConstantContactError as error:  # the campaign snapshot will fail and say so
            say(f"the first call failed ({type(error).__name__}: {error}); going on")
    ensure_dagster_home()
    import dagster as dg  # noqa: PLC0415

    from cc_assets import refresh as pipeline  # noqa: PLC0415

    names = [account.name if named else None for account in accounts]
    with dg.DagsterInstance.get() as instance:
        summary = pipeline.refresh(day, instance, verbose, contact_calls, names, refused)
    print_summary(summary, verbose)
    if summary.ok:
        say("refresh complete")
        return 0
    return 1


def status() -> int:
    """Each account's history progress, from the lake and the instance (no API call)."""
    ensure_dagster_home()
    import dagster as dg  # noqa: PLC0415

    from cc_assets.defs.automation.schedules import history_progress  # noqa: PLC0415
    from cc_assets.defs.ingestion.partitions import accounts  # noqa: PLC0415

    with dg.DagsterInstance.get() as instance:
        for account in accounts():
            progress = history_progress(instance, datetime.now(UTC), account)
            print(f"{account_prefix(account)}{progress.line()}")
            for name, value in progress.metadata().items():
                print(f"  {name}: {value}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="cc-assets", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("refresh", help="run the whole pipeline once")
    run.add_argument("--date", default=None, help="snapshot date (UTC), YYYY-MM-DD; only today")
    run.add_argument(
        "--verbose", action="store_true", help="print each failure's traceback on the terminal"
    )
    run.add_argument(
        "--contact-calls",
        type=int,
        default=None,
        metavar="N",
        help="at most N calls for the contact reports, read last (default: what the day's "
        "quota leaves; 0: none this run)",
    )
    run.add_argument(
        "--account",
        default=None,
        metavar="NAME",
        help="refresh only this account of the accounts file (CC_ASSETS_ACCOUNTS)",
    )
    run.add_argument(
        "--since",
        default=None,
        metavar="YYYY-MM-DD",
        help="read only activities sent on or after this date (CC_ASSETS_HISTORY_SINCE; "
        "moving it earlier later reads only the difference)",
    )
    commands.add_parser(
        "status", help="how much of the account's history is held and when the rest is expected"
    )
    accounts = commands.add_parser(
        "accounts", help="the accounts of the application key (CC_ASSETS_ACCOUNTS)"
    ).add_subparsers(dest="accounts_command", required=True)
    add = accounts.add_parser("add", help="authorize the app for one more account (OAuth)")
    add.add_argument("name", help="the account's short name: a slug of a-z, 0-9, _ and -")
    add.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="the redirect listener's port on 127.0.0.1; the app must have "
        "http://127.0.0.1:PORT/callback as a registered redirect URI",
    )
    add.add_argument(
        "--no-browser", action="store_true", help="print the authorize page, do not open it"
    )
    accounts.add_parser("list", help="every account: identity, weight, token health")
    args = parser.parse_args(argv)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        if args.command == "status":
            return status()
        if args.command == "accounts":
            from cc_assets import account_commands  # noqa: PLC0415

            if args.accounts_command == "list":
                return account_commands.list_accounts()
            return account_commands.add(args.name, args.port, not args.no_browser)
    except ConstantContactError as error:
        error_line(f"{type(error).__name__}: {error}")
        return 1
    except ConfigurationError as error:
        error_line(str(error))
        return 2
    if args.since is not None:
        try:
            datetime.strptime(args.since, "%Y-%m-%d")
        except ValueError:
            error_line(
                f"--since {args.since}: not a date; use YYYY-MM-DD (the oldest send to read)"
            )
            return 2
        os.environ["CC_ASSETS_HISTORY_SINCE"] = args.since  # every run's processes inherit it
    day = args.date or datetime.now(UTC).date().isoformat()
    try:
        datetime.strptime(day, "%Y-%m-%d")
    except ValueError:
        error_line(f"--date {day}: not a date; use YYYY-MM-DD (today, UTC)")
        return 2
    try:
        if args.contact_calls is not None and args.contact_calls < 0:
            error_line(f"--contact-calls {args.contact_calls}: a number of calls, 0 or more")
            return 2
        return refresh(day, args.verbose, args.contact_calls, args.account)
    except (BackfillRefusedError, ConfigurationError) as error:
        error_line(str(error))
        return 2
    except Exception as error:  # the instance's storage (DAGSTER_HOME), the code location
        if args.verbose:
            raise
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        error_line(f"refresh failed: {type(error).__name__}: {first} (rerun with --verbose)")
        return 1


if __name__ == "__main__":
    sys.exit(main())
