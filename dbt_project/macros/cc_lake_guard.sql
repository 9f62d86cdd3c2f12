{#
    The relation of a lake source, or, when the lake has no file for it yet (a fresh install,
    an asset never materialized), an empty relation of the source's declared columns.

    DuckDB binds read_parquet() when a view is created and fails on a glob that matches
    nothing, so without this guard `dbt build` on an empty lake would crash. The guard only
    applies on DuckDB (external_location sources); elsewhere the source is a real table.
    The typed columns come from the source's YAML (`data_type`), the one declaration of them.
    A declared column that no file has yet (captured_at in files written before it was
    recorded) is null, as read_parquet's union_by_name makes it when only some files lack it.
    A source's name is its folder in the lake (constant_contact, email_metrics); tables with
    `meta.partitioned: false` keep their file at the top of their folder. In the per-account
    lake (macros/cc_accounts.sql) the files are every account's, and the empty relation has
    the `account` column the folders would give.
#}
{% macro cc_lake_guard(relation) %}
    {%- if execute and target.type == 'duckdb' -%}
        {%- set node = graph.sources.values()
            | selectattr('name', 'equalto', relation.identifier) | first -%}
        {%- if not cc_lake_has_files(node) -%}
            {{ log("cc_assets: no lake files for " ~ relation.identifier ~ " yet: using an empty relation", info=True) }}
            (select
            {%- for column in node.columns.values() %}
                cast(null as {{ column.data_type }}) as {{ column.name }}{{ "," if not loop.last }}
            {%- endfor %}
            {%- if cc_lake_accounts() and 'account' not in node.columns %}, cast(null as {{ dbt.type_string() }}) as account{% endif %}
            where 1 = 0)
        {%- else -%}
            {%- set present = run_query("describe select * from " ~ relation).columns[0].values()
                | map('lower') | list -%}
            {%- set missing = node.columns.values() | rejectattr('name', 'in', present) | list -%}
            {%- if missing -%}
            (select *
            {%- for column in missing %}, cast(null as {{ column.data_type }}) as {{ column.name }}{% endfor %}
            from {{ relation }})
            {%- else -%}
            {{ relation }}
            {%- endif -%}
        {%- endif -%}
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{% endmacro %}

{% macro cc_lake_glob(node) %}
    {%- set partitioned = node.config.meta.get('partitioned', node.meta.get('partitioned', true)) -%}
    {{- return(env_var('CC_ASSETS_STORAGE', '../data/lake') ~ ('/account=*' if cc_lake_accounts() else '') ~ '/' ~ node.source_name ~ '/' ~ node.name ~ ('/*/part-*.parquet' if partitioned else '/part-*.parquet')) -}}
{% endmacro %}

{% macro cc_lake_has_files(node) %}
    {%- set found = run_query("select count(*) from glob('" ~ cc_lake_glob(node) ~ "')") -%}
    {{- return(found.columns[0].values()[0] > 0) -}}
{% endmacro %}
