"""Engagement metrics: the one computation of counts, rates, shares and curves (DuckDB)."""
