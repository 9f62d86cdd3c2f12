"""Engagement metrics computed from the raw tracking reports with DuckDB (DESIGN §5, §6)."""
