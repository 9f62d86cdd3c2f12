"""Dagster definitions, one folder per domain (ingestion, metrics, analytics, automation)."""
