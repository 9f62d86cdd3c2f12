"""Seconds from starting `python -m cc_assets.ui` (what `make ui` runs) until it serves the full
asset graph over GraphQL, on this venv (run it twice: the first start warms the caches), and
the CPU seconds that start cost (wall time on a busy machine is mostly waiting).

    .venv/bin/python benchmarks/ui_start.py [--runs 2] [--dagster-dev]

`--dagster-dev` measures plain `dagster dev -w workspace.yaml` instead, for comparison. Without
credentials `make ui` uses the built-in sandbox: one is started (and left running) if none
answers on CC_ASSETS_SANDBOX_PORT, so the first run includes that start.

Each run uses a fresh DAGSTER_HOME and lake in a temporary folder and the project's prepared
dbt manifest (`make manifest`). Target: within 10 s on a warm venv.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
GRAPH = "{ assetNodes { assetKey { path } } }"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _assets(base: str) -> int:
    """How many asset nodes the UI serves (0 while the code location is loading)."""
    try:
        response = httpx.post(f"{base}/graphql", json={"query": GRAPH}, timeout=5)
        return len(response.json().get("data", {}).get("assetNodes") or [])
    except (httpx.HTTPError, ValueError):
        return 0


def _session_cpu(session: int, seen: dict[int, float]) -> None:
    """Record the CPU seconds so far of every process of `session` in `seen` (a process that
    has exited keeps its last sample; its orphaned children are still in the session)."""
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == session:
                times = process.cpu_times()
                seen[process.pid] = times.user + times.system
        except (psutil.Error, ProcessLookupError, PermissionError):
            continue


def measure(timeout: float, dagster_dev: bool) -> tuple[float, int, float]:
    """(seconds until the graph is served, asset count, CPU seconds every process of the
    start had spent by then: the figure a busy machine does not inflate)."""
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "dagster_home"
        home.mkdir()
        shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
        env = os.environ | {
            "DAGSTER_HOME": str(home),
            "CC_ASSETS_STORAGE": str(Path(scratch) / "lake"),
            "CC_ASSETS_WAREHOUSE": str(Path(scratch) / "warehouse.duckdb"),
        }
        port = _free_port()
        if dagster_dev:
            dagster = str(Path(sys.executable).with_name("dagster"))
            command = [dagster, "dev", "-w", "workspace.yaml"]
        else:
            command = [sys.executable, "-m", "cc_assets.ui"]
        start = time.perf_counter()
        process = subprocess.Popen(
            [*command, "-p", str(port), "-h", "127.0.0.1"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        served = found = 0
        cpu: dict[int, float] = {}
        try:
            while time.perf_counter() - start < timeout:
                _session_cpu(process.pid, cpu)
                found = _assets(f"http://127.0.0.1:{port}")
                if found:
                    served = time.perf_counter() - start
                    _session_cpu(process.pid, cpu)
                    break
                time.sleep(0.2)
            else:
                raise SystemExit(f"{command[-1]} served no asset graph within {timeout:.0f} s")
        finally:
            os.killpg(process.pid, signal.SIGINT)  # Ctrl-C
            process.wait(timeout=180)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # what dagster dev left behind
        return served, found, sum(cpu.values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--dagster-dev", action="store_true", help="plain dagster dev instead")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    for run in range(1, args.runs + 1):
        seconds, assets, cpu = measure(args.timeout, args.dagster_dev)
        print(
            f"run {run}: full graph ({assets} assets) served {seconds:.1f} s after start, "
            f"{cpu:.1f} CPU s by then (load average {load:.1f} on {os.cpu_count()} cores)"
        )


if __name__ == "__main__":
    main()
