"""`cc-assets refresh` runs its heavy steps in processes of their own (Dagster's multiprocess
executor): one that dies costs only its own assets, and none outlives a refresh that was
killed."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import dagster as dg
import psutil
import pytest

from cc_assets.sandbox.process import SandboxServer
from cc_assets_tests.ingestion.test_refresh_cli import (
    CLI,
    assert_tracking_equals_truth,
    environment,
    refresh,
)


def step_process(
    refresh_pid: int, dagster_home: str, job_name: str, timeout: float = 240
) -> psutil.Process:
    """The refresh's child that runs the (only) step of a started run of `job_name`: the
    multiprocess executor's spawned process, once both exist."""
    deadline = time.monotonic() + timeout
    with dg.DagsterInstance.from_config(dagster_home) as instance:
        while time.monotonic() < deadline:
            started = instance.get_runs(
                dg.RunsFilter(job_name=job_name, statuses=[dg.DagsterRunStatus.STARTED])
            )
            for child in psutil.Process(refresh_pid).children() if started else []:
                try:
                    if any("spawn_main" in part for part in child.cmdline()):
                        return child
                except psutil.NoSuchProcess:
                    continue
            time.sleep(0.05)
    raise AssertionError(f"no step process of {job_name} within {timeout} s")


@pytest.mark.slow
def test_a_dead_stage_process_costs_its_own_runs_only(sandbox_factory, tmp_path: Path) -> None:
    server: SandboxServer = sandbox_factory(latency_ms=15)
    env = environment(server, tmp_path)
    with (tmp_path / "refresh.log").open("w+") as log:
        process = subprocess.Popen([CLI, "refresh"], env=env, stdout=log, stderr=log, text=True)
        step = step_process(process.pid, env["DAGSTER_HOME"], "activity_refresh_job")
        step.send_signal(signal.SIGKILL)
        assert process.wait(timeout=540) == 1
        log.seek(0)
        output = log.read()
    activities = [a["campaign_activity_id"] for a in server.ground_truth().reportable_activities()]
    died = (
        "Multiprocess executor: child process for step refresh_activities was terminated by "
        "signal 9 (SIGKILL)"
    )
    for activity_id in activities:  # killed before its first run ended: each activity fails
        assert f"FAILED    constant_contact/email_sends[{activity_id}]: {died}" in output, output
        assert f"deferred  email_metrics/activity_engagement[{activity_id}]" in output
    # the stages beside it ran: the snapshot before, the contact reports after
    assert "landed    constant_contact/email_campaigns" in output
    assert "landed    constant_contact/contact_activity_details" in output
    # the run it died in is failed at once (the UI shows why), not left STARTED for the next
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        live = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING]
        assert not instance.get_runs(dg.RunsFilter(statuses=live))
    again = refresh(env)  # its runs, left STARTED by the dead process, do not block this one
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert_tracking_equals_truth(tmp_path / "lake", server)


@pytest.mark.slow
def test_a_killed_refresh_takes_its_stage_process_with_it(sandbox_factory, tmp_path: Path) -> None:
    server: SandboxServer = sandbox_factory(latency_ms=15)
    env = environment(server, tmp_path)
    process = subprocess.Popen(
        [CLI, "refresh"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    stage = step_process(process.pid, env["DAGSTER_HOME"], "activity_refresh_job")
    process.send_signal(signal.SIGKILL)
    process.wait()
    gone, alive = psutil.wait_procs([stage], timeout=30)
    assert stage in gone and not alive, "the stage's process outlived its refresh"
    # it died at once, before its first run landed: an orphan would have gone on writing
    assert not list((tmp_path / "lake").glob("constant_contact/email_sends/*"))
