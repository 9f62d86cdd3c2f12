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
