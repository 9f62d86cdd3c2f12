"""The code location loads: the cheapest test that catches broken wiring."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg

from cc_assets.definitions import defs

ROOT = Path(__file__).resolve().parent.parent


def test_definitions_import_and_resolve() -> None:
    loaded = defs()
    assert isinstance(loaded, dg.Definitions)
    loaded.resolve_all_job_defs()


def test_dagster_definitions_validate() -> None:
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful for code location cc_assets" in result.stdout + result.stderr


def test_pipeline_jobs_load_without_dbt() -> None:
    """Every step process of a non-dbt job rebuilds it from `jobs.job_named`, which must
    resolve each of those jobs without importing dagster-dbt or dbt (~100 MB a process: the
    margin that keeps a refresh of a 1,000,000-send account within 400 MB a process)."""
    probe = (
        "import sys\n"
        "from cc_assets.defs.automation import jobs\n"
        "for job in jobs.JOBS:\n"
        "    jobs.job_named(job.name)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'dagster_dbt', 'dbt'}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout
    assert defs().resolve_job_def("dbt_build_job").name == "dbt_build_job"
