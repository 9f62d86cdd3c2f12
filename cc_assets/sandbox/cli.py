"""`cc-sandbox`: serve sandbox accounts over HTTP, or write one's ground truth as Parquet."""

from __future__ import annotations

import argparse
import json
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

from cc_assets.sandbox.account import RESPONSE_VARIANTS, AccountConfig, floor_to_second
from cc_assets.sandbox.accounts import (
    SandboxAccount,
    application_accounts,
    find_account,
    parse_sizes,
)
from cc_assets.sandbox.app import ServerOptions, build_app, first_line, middleware_instances
from cc_assets.sandbox.builtin import BUILTIN_ACCOUNT
from cc_assets.sandbox.clock import CLOCK_MODES
from cc_assets.sandbox.events import DEFAULT_CACHE_BYTES
from cc_assets.sandbox.faults import FaultSettings


def _timestamp(raw: str) -> datetime:
    moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return floor_to_second(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def add_account_arguments(parser: argparse.ArgumentParser) -> None:
    account = parser.add_argument_group("account")
    # the built-in account's size by default; its anchor and clock are `--now` and `--clock`
    account.add_argument("--seed", type=int, default=BUILTIN_ACCOUNT.seed)
    account.add_argument("--contacts", type=int, default=BUILTIN_ACCOUNT.contacts)
    account.add_argument("--campaigns", type=int, default=BUILTIN_ACCOUNT.campaigns)
    account.add_argument(
        "--days", type=int, default=BUILTIN_ACCOUNT.days, help="history the campaigns span"
    )
    account.add_argument("--now", type=_timestamp, default=None, help="the account's clock (ISO)")
    account.add_argument("--profile", choices=("generated", "seed-example"), default="generated")
    account.add_argument("--stats-refresh-seconds", type=int, default=0)
    for name, choices in RESPONSE_VARIANTS.items():
        flag = "--" + name.replace("_", "-")
        account.add_argument(
            flag, choices=choices, default=choices[0], help="response variant (RESPONSE_VARIANTS)"
        )
    account.add_argument(
        "--accounts",
        type=int,
        default=1,
        help="accounts under the one application; account 0 is the one the flags above define, "
        "each other one gets a seed derived from --seed and its index",
    )
    account.add_argument(
        "--account-contacts",
        type=parse_sizes,
        default=None,
        help="contacts of each account, comma-separated (one per account; default --contacts)",
    )


def account_config(args: argparse.Namespace) -> AccountConfig:
    return AccountConfig(
        seed=args.seed,
        contacts=args.contacts,
        campaigns=args.campaigns,
        days=args.days,
        now=args.now or floor_to_second(datetime.now(UTC)),
        profile=args.profile,
        stats_refresh_seconds=args.stats_refresh_seconds,
        **{name: getattr(args, name) for name in RESPONSE_VARIANTS},
    )


def accounts_of(args: argparse.Namespace) -> list[SandboxAccount]:
    return application_accounts(account_config(args), args.accounts, args.account_contacts)


def serve(args: argparse.Namespace) -> int:
    import uvicorn  # noqa: PLC0415 - only the serving path needs the server

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(1024)
    port = sock.getsockname()[1]
    options = ServerOptions(
        requests_per_second=args.requests_per_second,
        daily_quota=args.daily_quota,
        token_lifetime=args.token_lifetime,
        rotating_refresh_tokens=args.refresh_tokens == "rotating",
        clock=args.clock,
        clock_start=args.clock_start,
        event_cache_mb=args.event_cache_mb,
        faults=FaultSettings(
            p_5xx=args.fault_5xx,
            p_429=args.fault_429,
            p_drop=args.fault_drop,
            p_truncate=args.fault_truncate,
            latency_ms=args.latency_ms,
        ),
        fault_seed=args.fault_seed,
        redirect_uris=tuple(filter(None, args.redirect_uris.split(","))),
    )
    app = build_app(accounts_of(args), options, base_url=f"http://{args.host}:{port}")
    middleware_instances(app)
    print(json.dumps(first_line(app)), flush=True)
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=30,
    )
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def ground_truth(args: argparse.Namespace) -> int:
    from cc_assets.sandbox.ground_truth import GroundTruth  # noqa: PLC0415

    truth = GroundTruth(find_account(accounts_of(args), args.account).config)
    written = truth.write_lake(Path(args.out))
    print(json.dumps({"out": str(args.out), "files": written, "now": truth.now_iso}), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cc-sandbox", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    srv = commands.add_parser("serve", help="serve the account over HTTP on 127.0.0.1")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    add_account_arguments(srv)
    srv.add_argument(
        "--clock",
        choices=CLOCK_MODES,
        default="fixed",
        help="fixed: stays at --now; live: follows wall time; daily: 00:00 UTC of today",
    )
    srv.add_argument(
        "--clock-start",
        type=_timestamp,
        default=None,
        help="start the clock before --now to replay the account's past (a day simulator)",
    )
    srv.add_argument(
        "--event-cache-mb",
        type=int,
        default=DEFAULT_CACHE_BYTES >> 20,
        help="memory for generated activities (about 16 MB each at a million contacts)",
    )
    srv.add_argument("--requests-per-second", type=float, default=4, help="0 = unthrottled")
    srv.add_argument("--daily-quota", type=int, default=10_000, help="0 = none")
    srv.add_argument("--token-lifetime", type=int, default=86_400)
    srv.add_argument("--refresh-tokens", choices=("rotating", "long-lived"), default="rotating")
    srv.add_argument(
        "--redirect-uris",
        default="",
        help="the app's registered redirect URIs, comma-separated: the authorize endpoint "
        "takes only these, exactly, as CC does (default: any absolute http(s) URI)",
    )
    for name in ("5xx", "429", "drop", "truncate"):
        srv.add_argument(f"--fault-{name}", type=float, default=0.0, help="probability per call")
    srv.add_argument("--latency-ms", type=float, default=0.0)
    srv.add_argument("--fault-seed", type=int, default=None)
    srv.set_defaults(run=serve)
    truth = commands.add_parser("ground-truth", help="write every report's exact rows as Parquet")
    add_account_arguments(truth)
    truth.add_argument("--out", required=True, help="lake root to write into")
    truth.add_argument("--account", default=None, help="which account (acctN; default acct0)")
    truth.set_defaults(run=ground_truth)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (OSError, ValueError) as exc:
        print(f"cc-sandbox: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
