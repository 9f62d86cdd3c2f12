"""Raw Constant Contact snapshots: resources, partitions, assets and checks."""
