{#
    Many Constant Contact accounts in one lake.

    Without an accounts file the lake is one account's (`<lake>/constant_contact/...`), named
    `default`. With one (CC_ASSETS_ACCOUNTS), each account's lake is a complete single-account
    lake under `<lake>/account=<name>/`, and the Dagster side tells dbt so by
    CC_ASSETS_LAKE_ACCOUNTS=1 (cc_assets/defs/analytics/project.py): the sources then read
    `<lake>/account=*/...`, and DuckDB's hive partitioning gives every row the folder's
    `account` (read as text: hive_types_autocast = false, so an account named `007` stays
    `007`). On a warehouse that cannot read the lake (Postgres) every loaded table has an
    `account` column (cc_assets/lake/postgres_load.py), in either layout.
#}
{% macro cc_lake_accounts() -%}
    {{ return(env_var('CC_ASSETS_LAKE_ACCOUNTS', '') == '1') }}
{%- endmacro %}

{#
    The row's account, as a staging model selects it: the source's `account` column where it
    has one (the per-account lake, a loaded warehouse), else the single account's name. It
    comes with the scan of the source: no join, no second read.
#}
{% macro cc_account() -%}
    {%- if target.type != 'duckdb' or cc_lake_accounts() -%}
        cast(account as {{ dbt.type_string() }})
    {%- else -%}
        cast('default' as {{ dbt.type_string() }})
    {%- endif -%}
{%- endmacro %}
