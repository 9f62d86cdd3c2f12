"""The dbt project as Dagster assets: sources mapped to the raw lake assets, tests as checks."""
