"""What a refresh does, as plain functions over the client and the lake (no Dagster)."""
