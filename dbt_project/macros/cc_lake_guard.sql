{#
    The relation of a lake source, or, when the lake has no file for it yet (a fresh install,
    an asset never materialized), an empty relation of the source's declared columns.

    DuckDB binds read_parquet() when a view is created and fails on a glob that matches
    nothing, so without this guard `dbt build` on an empty lake would crash. The guard only
    applies on DuckDB (external_location sources); elsewhere the source is a real table.
    The typed columns come from the source's YAML (`data_type`), the one declaration of them.
#}
{% macro cc_lake_guard(relation) %}
    {%- if execute and target.type == 'duckdb' and not cc_lake_has_files(relation.identifier) -%}
        {%- set node = graph.sources.values()
            | selectattr('source_name', 'equalto', 'constant_contact')
            | selectattr('name', 'equalto', relation.identifier) | first -%}
        {{ log("cc_assets: no lake files for " ~ relation.identifier ~ " yet: using an empty relation", info=True) }}
        (select
        {%- for column in node.columns.values() %}
            cast(null as {{ column.data_type }}) as {{ column.name }}{{ "," if not loop.last }}
        {%- endfor %}
        where 1 = 0)
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{% endmacro %}

{% macro cc_lake_glob(table_name) %}
    {{- return(env_var('CC_ASSETS_STORAGE', '../data/lake') ~ '/constant_contact/' ~ table_name ~ '/*/*.parquet') -}}
{% endmacro %}

{% macro cc_lake_has_files(table_name) %}
    {%- set found = run_query("select count(*) from glob('" ~ cc_lake_glob(table_name) ~ "')") -%}
    {{- return(found.columns[0].values()[0] > 0) -}}
{% endmacro %}
