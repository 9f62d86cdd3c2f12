"""The Constant Contact resource: the client, configured from the environment.

Secrets are read from the environment when a run starts, never at import and never from
files in the repo. With no credentials at all the built-in sandbox is used, and said so.
"""

import ctypes
import multiprocessing
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace

import dagster as dg
from pydantic import Field
from upath import UPath

from cc_assets.constant_contact.client import ConstantContactClient
from cc_assets.constant_contact.settings import ClientSettings
from cc_assets.lake.paths import lake_root
from cc_assets.pipeline.preflight import SANDBOX_NOTICE, with_sandbox


class ConstantContactResource(dg.ConfigurableResource):
    """Opens a `ConstantContactClient`. Unset fields come from the environment at run time."""

    base_url: str | None = Field(
        default=None, description="v3 API root (CONSTANT_CONTACT_BASE_URL)"
    )
    requests_per_second: float | None = Field(
        default=None, description="shared by every run (CONSTANT_CONTACT_REQUESTS_PER_SECOND)"
    )
    daily_quota: int | None = Field(default=None, description="CONSTANT_CONTACT_DAILY_QUOTA")
    sandbox_port: int | None = Field(
        default=None, description="port of the built-in sandbox (CC_ASSETS_SANDBOX_PORT, 8765)"
    )

    def client_settings(self) -> ClientSettings:
        settings = ClientSettings.from_env()
        overrides = {
            k: v
            for k, v in {
                "base_url": self.base_url,
                "requests_per_second": self.requests_per_second,
                "daily_quota": self.daily_quota,
            }.items()
            if v is not None
        }
        return with_sandbox(replace(settings, **overrides), self.sandbox_port)

    @contextmanager
    def open(self, log: dg.DagsterLogManager | None = None) -> Iterator[ConstantContactClient]:
        settings = self.client_settings()
        if settings.is_sandbox and log is not None:
            log.info(SANDBOX_NOTICE)
        with ConstantContactClient(
            settings,
            on_event=log.info if log else None,
            on_warning=log.warning if log else None,
        ) as client:
            yield client


def source_label(settings: ClientSettings) -> str:
    """`sandbox` or `constant_contact`: where a raw asset's rows came from."""
    host = settings.base_url.split("://", 1)[-1].split("/", 1)[0].split(":")[0]
    return (
        "sandbox"
        if settings.is_sandbox or host in {"127.0.0.1", "localhost"}
        else "constant_contact"
    )


class LakeResource(dg.ConfigurableResource):
    """The Parquet lake's root (CC_ASSETS_STORAGE when unset).

    Every step that writes the lake uses it, so it is also where a step's own process (the
    multiprocess executor's) is bound to its run's: it must not go on writing the lake beside
    the next run after the process that ran it was killed (`die_with_orchestrator`)."""

    storage: str | None = Field(default=None, description="local path or fsspec URL")

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        die_with_orchestrator()

    def root(self) -> UPath:
        return lake_root(self.storage)


PR_SET_PDEATHSIG = 1


def die_with_orchestrator() -> None:
    """In a step's own process (a child started by Dagster's multiprocess executor): be
    killed when the process that orchestrates the run dies. Linux sends SIGKILL on the
    parent's death (`prctl(PR_SET_PDEATHSIG)`); a parent already gone means exit now. In the
    orchestrating process itself (in-process execution) nothing changes."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    with suppress(OSError, AttributeError):  # not Linux: no such call; the parent check stays
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent.pid:
        os._exit(1)


defs = dg.Definitions(
    resources={"constant_contact": ConstantContactResource(), "lake": LakeResource()}
)
