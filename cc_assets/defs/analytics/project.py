"""The dbt project (`dbt_project/`), its manifest, and how dbt is invoked.

The manifest is prepared (`dbt parse`) at definitions load when it is missing (a fresh clone
needs no manual step) or older than any file of the dbt project (an edit, a pull), and on every
load under `dagster dev`; otherwise the existing `target/manifest.json` is used as is, so
loading stays fast.

dbt resolves relative paths against its own working directory, so the lake and warehouse paths
(`CC_ASSETS_STORAGE`, `CC_ASSETS_WAREHOUSE`) are made absolute before dbt is called.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

from cc_assets.lake.paths import lake_root, location

PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_project"
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))
DEFAULT_WAREHOUSE = "data/warehouse.duckdb"


def dbt_target() -> str:
    """`CC_ASSETS_DBT_TARGET`: `duckdb` (default) or `postgres`."""
    return os.environ.get("CC_ASSETS_DBT_TARGET", "duckdb")


def warehouse_path() -> Path:
    """`CC_ASSETS_WAREHOUSE`, absolute (default `./data/warehouse.duckdb`)."""
    return Path(os.environ.get("CC_ASSETS_WAREHOUSE", DEFAULT_WAREHOUSE)).resolve()


def dbt_environment() -> dict[str, str]:
    """The absolute lake root and warehouse file dbt must see."""
    return {
        "CC_ASSETS_STORAGE": location(lake_root()),
        "CC_ASSETS_WAREHOUSE": str(warehouse_path()),
    }


def apply_dbt_environment() -> dict[str, str]:
    """Export `dbt_environment()` to this process (dbt runs as its child) and create the
    warehouse's folder. Returns what was set."""
    environment = dbt_environment()
    os.environ.update(environment)
    Path(environment["CC_ASSETS_WAREHOUSE"]).parent.mkdir(parents=True, exist_ok=True)
    return environment


def dbt_cli(project: DbtProject) -> DbtCliResource:
    return DbtCliResource(
        project_dir=project,
        profiles_dir=str(PROJECT_DIR),
        target=dbt_target(),
        dbt_executable=DBT_EXECUTABLE,
    )


def _sources_newest_mtime(project_dir: Path) -> float:
    """The newest modification time of the files `dbt parse` reads."""
    files = [project_dir / "dbt_project.yml", project_dir / "profiles.yml"]
    for folder in ("models", "macros", "tests", "seeds", "snapshots"):
        files.extend(p for p in (project_dir / folder).rglob("*") if p.is_file())
    return max((p.stat().st_mtime for p in files if p.exists()), default=0.0)


def manifest_is_stale(project: DbtProject) -> bool:
    """Missing, or older than a model, macro or config file (an edit, a git pull)."""
    manifest = project.manifest_path
    return not manifest.exists() or manifest.stat().st_mtime < _sources_newest_mtime(
        Path(project.project_dir)
    )


def prepare_manifest(project: DbtProject, force: bool = False) -> Path:
    """`dbt parse` into the project's target folder when the manifest is missing or stale (or
    `force`); otherwise nothing, so loading the definitions stays fast.

    DbtProject's own preparer only acts under `dagster dev`; a fresh clone (or a deployment
    that did not run `dagster-dbt project prepare-and-package`) has no manifest at all, and the
    definitions could not load, and a stale one would give Dagster a different graph from the
    one `dbt build` runs. Parsing takes a few seconds."""
    if force or manifest_is_stale(project):
        apply_dbt_environment()
        dbt_cli(project).cli(["parse", "--quiet"], target_path=project.target_path).wait()
    return project.manifest_path


dbt_project = DbtProject(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR, target=dbt_target())
prepare_manifest(dbt_project, force=dbt_project.preparer.using_dagster_dev())


def run_dbt_build(args: list[str] | None = None, log: Callable[[str], None] = print) -> bool:
    """`dbt build` outside Dagster (e.g. from `cc-assets refresh` without an instance):
    streams dbt's log lines to `log`, returns True on success."""
    apply_dbt_environment()
    invocation = dbt_cli(dbt_project).cli(["build", *(args or [])], raise_on_error=False)
    for line in _lines(invocation.stream_raw_events()):
        log(line)
    return invocation.is_successful()


def _lines(events) -> Iterator[str]:
    for event in events:
        message = event.raw_event.get("info", {}).get("msg")
        if message:
            yield message
