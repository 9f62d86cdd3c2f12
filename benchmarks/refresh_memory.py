"""Peak memory of every process of a whole `cc-assets refresh` on a 1,000,000-send account.

    .venv/bin/python benchmarks/refresh_memory.py [--contacts 1030000 --campaigns 3 --seed 10]
        [--refreshes 2]

Starts an unthrottled sandbox (no per-second limit, no daily quota) whose one sent primary
activity has at least 1,000,000 sends (seed 10 of 3 campaigns: audience share 0.978; the other
two campaigns are still executing and scheduled), runs `cc-assets refresh` (snapshots, every
tracking report, the contact backlog, metrics and `dbt build`) `--refreshes` times in a row
(the first reads everything, the next ones are incremental: what changed) as a subprocess with the
environment a user sets (the sandbox's credentials, `CONSTANT_CONTACT_REQUESTS_PER_SECOND=0`,
`CONSTANT_CONTACT_DAILY_QUOTA=0` so a quota never defers a report), and every ~0.2 s reads
`VmHWM` (peak RSS) from /proc/<pid>/status of every process of the refresh's tree (the CLI,
each step's own process (Dagster's multiprocess executor) and their descendants: dbt, ...;
not the sandbox server). VmHWM is a peak since the
process started, so a sample just before a process exits still holds its whole peak; a process
living less than one poll may be missed, which the reaped-children peak (`getrusage`) printed
below the table covers.

Then it checks every row: each tracking partition's row count in the lake equals the ground
truth's `tracking(activity_id, report).num_rows`, for every reportable activity and report.

Exits 1 if any process peaked above 400 MB (DESIGN: every process <= 400 MB for a
1,000,000-send account), a row count differs, the refresh failed, or the account has no
activity of 1,000,000 sends.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pyarrow.parquet as pq

from cc_assets.constant_contact.schemas import TRACKING_REPORTS, TRACKING_TABLES
from cc_assets.lake.paths import lake_root, partition_file
from cc_assets.sandbox.process import SandboxServer

LIMIT_MB = 400.0
MIN_SENDS = 1_000_000
POLL_SECONDS = 0.2


def peak_rss_mb(pid: int) -> float | None:
    """`VmHWM` of /proc/<pid>/status in MB (the kernel's peak resident set), None if gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def shorten(cmdline: list[str], width: int = 78) -> str:
    """A command line without the venv's and temp folders' long prefixes, cut to `width`; a
    step's own process (Dagster's multiprocess executor spawns it) as such."""
    if any("spawn_main" in part for part in cmdline):
        return "step process (multiprocess executor)"
    venv_bin = str(Path(sys.executable).parent) + "/"
    text = " ".join(part.replace(venv_bin, "") for part in cmdline) or "?"
    text = text.replace(tempfile.gettempdir() + "/", "")
    return text if len(text) <= width else text[: width - 3] + "..."


@dataclass
class TreeSampler:
    """Polls the process tree under `root_pid`, keeping each (pid, command line)'s peak."""

    root_pid: int
    peaks: dict[tuple[int, str], float] = field(default_factory=dict)
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        try:
            root = psutil.Process(self.root_pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        for process in tree:
            try:
                command = shorten(process.cmdline())
            except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                continue
            peak = peak_rss_mb(process.pid)
            if peak is None:  # a zombie has no memory left to report
                continue
            key = (process.pid, command)
            self.peaks[key] = max(peak, self.peaks.get(key, 0.0))
        self.samples += 1

    def run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(POLL_SECONDS)

    def stop(self) -> None:
        self._stop.set()


def lake_rows(lake: Path, activity_id: str, report: str) -> int | None:
    """Rows of one tracking partition from its Parquet footer (None: no file)."""
    path = Path(str(partition_file(TRACKING_TABLES[report], activity_id, lake_root(str(lake)))))
    return pq.ParquetFile(path).metadata.num_rows if path.exists() else None


def measure_refresh(env: dict[str, str], log: Path, number: int) -> tuple[int, TreeSampler]:
    """One `cc-assets refresh`, its process tree sampled; prints its exit, wall and peaks."""
    cli = str(Path(sys.executable).with_name("cc-assets"))
    started = time.perf_counter()
    with log.open("w") as out:
        refresh = subprocess.Popen([cli, "refresh"], env=env, stdout=out, stderr=out)
        sampler = TreeSampler(refresh.pid)
        poller = threading.Thread(target=sampler.run, daemon=True)
        poller.start()
        code = refresh.wait()
        sampler.stop()
        poller.join()
    wall = time.perf_counter() - started
    print(f"\nrefresh {number}: exit {code}, wall {wall:.1f} s ({sampler.samples} samples), {log}")
    if code != 0:
        print(log.read_text()[-3000:])
    print(f"{'peak RSS MB':>11}  {'pid':>7}  process")
    for (pid, command), peak in sorted(sampler.peaks.items(), key=lambda kv: -kv[1]):
        flag = "  OVER" if peak > LIMIT_MB else ""
        print(f"{peak:11.1f}  {pid:7d}  {command}{flag}")
    return code, sampler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=1_030_000)
    parser.add_argument("--campaigns", type=int, default=3)
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument(
        "--refreshes", type=int, default=2, help="refreshes in a row (the later ones: incremental)"
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="refresh-memory-"))
    lake = folder / "lake"
    account = {"seed": args.seed, "contacts": args.contacts, "campaigns": args.campaigns}
    print(f"account {account}, work folder {folder}", flush=True)
    with SandboxServer.start(**account, requests_per_second=0, daily_quota=0) as server:
        env = {
            **os.environ,
            **server.client_env(),
            "CONSTANT_CONTACT_REQUESTS_PER_SECOND": "0",
            "CONSTANT_CONTACT_DAILY_QUOTA": "0",
            "CC_ASSETS_STORAGE": str(lake),
            "CC_ASSETS_WAREHOUSE": str(folder / "warehouse.duckdb"),
            "CC_ASSETS_STATE_DIR": str(folder / "state"),
            "DAGSTER_HOME": str(folder / "dagster_home"),
        }
        (folder / "dagster_home").mkdir()
        peaks: dict[tuple[int, str], float] = {}
        codes = []
        for number in range(1, args.refreshes + 1):
            code, sampler = measure_refresh(env, folder / f"refresh-{number}.log", number)
            codes.append(code)
            peaks |= {
                (pid, f"refresh {number}: {cmd}"): mb for (pid, cmd), mb in sampler.peaks.items()
            }
        # Every descendant is reaped by now (and the sandbox, still running, is not yet).
        reaped_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        largest = max(peaks.items(), key=lambda kv: kv[1], default=((0, "?"), 0.0))
        print(f"\nlargest: {largest[1]:.1f} MB ({largest[0][1]}), limit {LIMIT_MB:.0f} MB")
        print(f"largest reaped descendant (getrusage): {reaped_mb:.1f} MB")

        truth = server.ground_truth()
        activities = [a["campaign_activity_id"] for a in truth.reportable_activities()]
        exact = True
        most_sends = 0
        print(f"\n{'activity':36}  {'report':12} {'lake':>10} {'truth':>10}")
        for activity_id in activities:
            for report in TRACKING_REPORTS:
                expected = truth.tracking(activity_id, report).num_rows
                held = lake_rows(lake, activity_id, report)
                if report == "sends":
                    most_sends = max(most_sends, expected)
                ok = held == expected or (held is None and expected == 0)
                exact &= ok
                mark = "" if ok else "  DIFFERS"
                shown = "no file" if held is None else str(held)
                print(f"{activity_id}  {report:12} {shown:>10} {expected:>10}{mark}")
    print(f"\nlargest activity: {most_sends:,} sends (needed >= {MIN_SENDS:,})")
    print(f"every row exact: {exact}")
    over = [key for key, peak in peaks.items() if peak > LIMIT_MB]
    if reaped_mb > LIMIT_MB and not over:
        over = [(0, "a descendant the poll missed")]
    print(f"processes over {LIMIT_MB:.0f} MB: {len(over)}")
    ok = not any(codes) and exact and not over and most_sends >= MIN_SENDS
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
