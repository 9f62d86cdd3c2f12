"""`make ui`: the Dagster UI on this project, against the sandbox when no credentials are set.

It starts what `dagster dev` starts (a code server, the webserver, the daemon, on one instance),
in the order that serves the asset graph soonest on a two-core machine. `dagster dev` imports
Dagster itself, then starts the code server, and only when that answers the webserver and the
daemon, which then compete with the code location's load and the first page for the two cores.
Here this process starts the built-in sandbox when no credentials are set (the code server
inherits its variables), opens the instance's storage (created once, as `dagster dev` does), then
the code server and the webserver start at once, and the daemon once the webserver has loaded
the code location (its schedules and sensors start a few seconds later; nothing they do
is due that soon). The code server is Dagster's own proxy (`dagster code-server start`), so the
UI's "Reload definitions" re-imports the code as under `dagster dev`, and `DAGSTER_IS_DEV_CLI`
is set, so the dbt manifest is re-parsed when a dbt file is newer.

Ctrl-C or SIGTERM stops all three, and everything they started, within `STOP_SECONDS`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import yaml

from cc_assets.constant_contact.errors import ConfigurationError
from cc_assets.instance import PROJECT_ROOT, ensure_dagster_home
from cc_assets.pipeline.preflight import sandbox_unless_credentials
from cc_assets.settings import export, load_settings

LOCATION = "cc_assets"
DEFINITIONS_MODULE = "cc_assets.definitions"
LOAD_SECONDS = 300  # the daemon starts then even if the location never loads (it logs why)
STOP_SECONDS = 60
LOADED = (
    "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus"
    " locationOrLoadError { __typename } } } } }"
)


def _arguments(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="make ui", add_help=False)
    parser.add_argument("-p", "--port", default="3000")
    parser.add_argument("-h", "--host", default="127.0.0.1")
    return parser.parse_known_args(argv)


def _location_loaded(url: str) -> bool:
    """True once the webserver has loaded the code location. The webserver may ask before the
    code server answers and show a load error until the code server says it is up: that is
    not loaded yet."""
    try:
        body = httpx.post(f"{url}/graphql", json={"query": LOADED}, timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return False
    entries = ((body.get("data") or {}).get("workspaceOrError") or {}).get("locationEntries")
    return any(
        e["name"] == LOCATION
        and e["loadStatus"] == "LOADED"
        and (e.get("locationOrLoadError") or {}).get("__typename") == "RepositoryLocation"
        for e in entries or []
    )


def _open_instance_storage() -> None:
    """Create (or migrate) the instance's storage before any of the three opens it, as
    `dagster dev` does: two processes creating a fresh SQLite schema at once break its
    migration history ("more than one head"), and the webserver or the daemon dies at start."""
    import dagster as dg  # noqa: PLC0415 - only `make ui` itself needs Dagster here

    dg.DagsterInstance.get().dispose()


def _interrupt(*_: object) -> None:
    """Ctrl-C or SIGTERM, even when this process was started with SIGINT ignored (a parent
    that ignores it, as pytest-xdist workers do, would otherwise leave it ignored here)."""
    raise KeyboardInterrupt


class Services:
    """The processes of `make ui`, in a process group of their own: what they start (the code
    server's own server, the runs the daemon launches) is in it too, so stopping the group
    leaves nothing behind, whichever of them started what."""

    def __init__(self) -> None:
        self.processes: dict[str, subprocess.Popen] = {}
        self.group: int | None = None

    def start(self, name: str, command: list[str]) -> None:
        process = subprocess.Popen(command, process_group=self.group or 0)
        self.group = self.group or process.pid
        self.processes[name] = process

    def running(self) -> bool:
        return all(p.poll() is None for p in self.processes.values())

    def ended(self) -> list[str]:
        return [name for name, p in self.processes.items() if p.poll() is not None]

    def stop(self) -> None:
        """SIGINT to the group (as Ctrl-C would), then SIGKILL to whatever of it is left after
        `STOP_SECONDS`."""
        if self.group is None:
            return
        for interrupt in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut it short
            signal.signal(interrupt, signal.SIG_IGN)
        self._signal(signal.SIGINT)
        deadline = time.monotonic() + STOP_SECONDS
        for process in self.processes.values():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                break
        self._signal(signal.SIGKILL)  # the group's stragglers, grandchildren included
        for process in self.processes.values():
            process.wait()

    def _signal(self, how: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):  # every member has exited
            os.killpg(self.group, how)


def serve(argv: list[str], prepare: Callable[[], int | None]) -> int:
    """`prepare` (unless it returns an exit code), then the code server, the webserver and,
    once the location is loaded, the daemon, until Ctrl-C, SIGTERM or one of them exits."""
    options, extra = _arguments(argv)
    url = f"http://{options.host}:{options.port}"
    python = sys.executable
    refused = prepare()  # before the code server: what it starts inherits the environment
    if refused is not None:
        return refused
    export({"DAGSTER_IS_DEV_CLI": "1"})
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    with tempfile.TemporaryDirectory(prefix="cc-assets-ui-") as scratch:
        socket = str(Path(scratch) / "code.sock")
        workspace = Path(scratch) / "workspace.yaml"
        grpc = {"socket": socket, "location_name": LOCATION}
        workspace.write_text(yaml.safe_dump({"load_from": [{"grpc_server": grpc}]}))
        code = [python, "-m", "dagster", "code-server", "start", "--socket", socket]
        code += ["-m", DEFINITIONS_MODULE, "-d", str(PROJECT_ROOT), "--location-name", LOCATION]
        webserver = [python, "-m", "dagster_webserver", "-w", str(workspace)]
        webserver += ["-p", options.port, "-h", options.host, *extra]
        daemon = [str(Path(python).with_name("dagster-daemon")), "run", "-w", str(workspace)]
        services = Services()
        try:
            _open_instance_storage()
            services.start("code server", code)
            services.start("webserver", webserver)
            start = time.monotonic()
            while not _location_loaded(url) and time.monotonic() - start < LOAD_SECONDS:
                if not services.running():
                    break
                time.sleep(0.25)
            if services.running():
                services.start("daemon", daemon)
                print(f"make ui: serving {url}; the daemon is starting")
            while services.running():
                time.sleep(0.5)
            ended = ", ".join(services.ended())
            print(f"make ui: the {ended} stopped; stopping the rest", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 0
        finally:
            services.stop()


def _sandbox_unless_credentials() -> int | None:
    """The built-in sandbox when no credentials are set (started if none runs, and exported
    to the environment the code server and its runs inherit); 2 when a setting is wrong or
    another account's sandbox holds the port."""
    try:
        project = load_settings()
        if project.account_names():  # an accounts file: its accounts, never the sandbox
            return None
        info = sandbox_unless_credentials(project.client())
    except ConfigurationError as error:  # one line
        print(f"make ui: {error}", file=sys.stderr)
        return 2
    if info is None:
        return None
    print(
        "No Constant Contact credentials: using the built-in sandbox account "
        f"{info['fingerprint']} at {info['base_url']}"
    )
    return None


def main() -> int:
    os.chdir(PROJECT_ROOT)
    print(f"Dagster instance: {ensure_dagster_home()}")
    return serve(sys.argv[1:], prepare=_sandbox_unless_credentials)


if __name__ == "__main__":
    sys.exit(main())
