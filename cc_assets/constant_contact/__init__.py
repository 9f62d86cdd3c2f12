"""A plain, typed client for Constant Contact's reporting API. No Dagster in here."""
