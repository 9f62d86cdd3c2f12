"""The Parquet lake: schemas, paths and crash-safe partition writes. No Dagster in here."""
