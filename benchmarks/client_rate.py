"""Sustained request rate of concurrent clients against a sandbox enforcing the real limit.

    .venv/bin/python benchmarks/client_rate.py [--seconds 150] [--processes 4] [--rate 4]
        [--rate-limit-url redis://127.0.0.1:6379/0]

The budget is the lock file every process of one machine shares, or with `--rate-limit-url`
the Redis one that every host of a deployment shares (CC_ASSETS_RATE_LIMIT_URL).

Every process calls as fast as its shared request budget allows; the sandbox logs what it
accepted, and the rate is taken over the span from the first accepted call to the last.
Target: >= 95% of the configured rate, never above it (at most `rate` accepted in
any one-second window). It also prints the fraction of requests the sandbox refused as
throttled: scheduling jitter on a busy machine can make a request arrive early for the server's
one-second window; the client retries it on a new slot, and the suite asserts only that such a
429 is absorbed with the data exact.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time

from cc_assets.constant_contact.client import ConstantContactClient
from cc_assets.constant_contact.settings import ClientSettings
from cc_assets.sandbox.process import SandboxServer


def _calls(settings: ClientSettings, until: float, state_dir: str) -> None:
    os.environ["CC_ASSETS_STATE_DIR"] = state_dir
    with ConstantContactClient(settings) as client:
        while time.time() < until:
            client.get("emails", {"limit": 1})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=150)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--rate", type=float, default=4)
    parser.add_argument("--rate-limit-url", default=None)
    args = parser.parse_args()
    state_dir = tempfile.mkdtemp(prefix="cc-rate-")
    with SandboxServer.start(requests_per_second=args.rate, daily_quota=0) as server:
        settings = ClientSettings(
            base_url=server.base_url,
            access_token=server.access_token,
            requests_per_second=args.rate,
            daily_quota=0,
            rate_limit_url=args.rate_limit_url,
        )
        context = multiprocessing.get_context("spawn")
        start = time.time()
        until = start + args.seconds
        workers = [
            context.Process(target=_calls, args=(settings, until, state_dir))
            for _ in range(args.processes)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.time() - start
        seen = server.requests()
    accepted = sorted(moment for moment, _, status in seen["log"] if status == 200)
    # Sustained rate as the server saw it: from the first accepted call to the last, so the
    # workers' start-up (spawning, imports) is not counted as time the budget went unused.
    span = accepted[-1] - accepted[0]
    rate = (len(accepted) - 1) / span
    budget = "redis" if args.rate_limit_url else "lock file"
    print(f"processes={args.processes} seconds={elapsed:.0f} limit={args.rate}/s budget={budget}")
    print(f"accepted={len(accepted)} over {span:.1f}s throttled={seen['throttled']}")
    print(f"throttled_fraction={seen['throttled'] / max(seen['total'], 1):.4f}")
    print(f"max_in_any_second={seen['max_in_any_second']}")
    print(f"sustained_rate={rate:.3f}/s ({100 * rate / args.rate:.1f}% of the limit)")


if __name__ == "__main__":
    main()
