"""Constant Contact email-campaign reporting as Dagster assets, Parquet snapshots and dbt models."""

__version__ = "0.1.0"
