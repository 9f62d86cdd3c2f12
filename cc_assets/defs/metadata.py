"""What every asset shows about itself in the Dagster UI, defined once for all domains.

Dagster reads a few metadata keys specially: `dagster/row_count` is charted over time and
`dagster/column_schema` fills the asset's Columns tab, so every asset reports its table under
those keys rather than ad hoc ones.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import pyarrow as pa
from tabulate import tabulate

from cc_assets.constant_contact.schemas import AssetTable
from cc_assets.lake.postgres_load import sql_type

OWNERS = ["team:data-engineering"]
"""Who answers for every asset of the project."""

PREVIEW_ROWS = 5


def column_schema(table: AssetTable) -> dg.TableSchema:
    """The table's fixed Arrow schema as Dagster's column schema, with the SQL types its dbt
    source and warehouse table declare (`sql_type`), so a column reads the same along the
    lineage."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=f.name,
                type=sql_type(f.type),
                constraints=dg.TableColumnConstraints(nullable=f.nullable),
            )
            for f in table.schema
        ]
    )


def spec_metadata(table: AssetTable) -> dict[str, Any]:
    """Definition-time metadata of an asset writing `table`: its columns, shown before any
    materialization."""
    return {"dagster/column_schema": column_schema(table)}


def table_metadata(table: AssetTable, rows: int, path: str) -> dict[str, Any]:
    """Materialization metadata of one written partition: row count, columns, file."""
    return {
        "dagster/row_count": dg.MetadataValue.int(rows),
        "dagster/column_schema": column_schema(table),
        "path": dg.MetadataValue.path(path),
    }


def preview(table: pa.Table | None, rows: int = PREVIEW_ROWS) -> dg.MetadataValue:
    """The first rows as a markdown table (without `captured_at`/`computed_at`, which are the
    same on every row)."""
    if table is None or table.num_rows == 0:
        return dg.MetadataValue.md("_no rows_")
    stamps = [c for c in ("captured_at", "computed_at") if c in table.column_names]
    sample = table.slice(0, rows).drop_columns(stamps)
    markdown = tabulate(sample.to_pylist(), headers="keys", tablefmt="pipe", floatfmt=".1f")
    return dg.MetadataValue.md(markdown)
