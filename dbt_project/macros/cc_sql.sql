{#
    A 64-bit float. dbt.type_float() is `float`, which is double precision on Postgres but a
    32-bit REAL on DuckDB: too coarse for the metric tables' percents, which must round to CC's figures.
#}
{% macro cc_type_double() -%}
    {{ return(adapter.dispatch('cc_type_double')()) }}
{%- endmacro %}

{% macro default__cc_type_double() -%}
    {{ return(dbt.type_float()) }}
{%- endmacro %}

{% macro duckdb__cc_type_double() -%}
    {{ return('double') }}
{%- endmacro %}

{#
    The value of `value` on the row with the greatest `order_by`, as an aggregate: DuckDB's
    arg_max, elsewhere the first element of an ordered array_agg. Avoids a window over every
    event just to pick the latest one.
#}
{% macro cc_latest(value, order_by) -%}
    {{ return(adapter.dispatch('cc_latest')(value, order_by)) }}
{%- endmacro %}

{% macro default__cc_latest(value, order_by) -%}
    (array_agg({{ value }} order by {{ order_by }} desc))[1]
{%- endmacro %}

{% macro duckdb__cc_latest(value, order_by) -%}
    arg_max({{ value }}, {{ order_by }})
{%- endmacro %}

{#
    The columns of a lake source, as `alias.column` select items, from the source's YAML (the
    one declaration of them), leaving out `except`: how a mart passes its email_metrics input
    through unchanged without repeating its column list.
#}
{% macro cc_columns_of(source_name, table_name, alias, except=[]) -%}
    {%- if execute -%}
        {%- set node = graph.sources.values()
            | selectattr('source_name', 'equalto', source_name)
            | selectattr('name', 'equalto', table_name) | first -%}
        {%- set names = node.columns.keys() | reject('in', except) | list -%}
        {%- for name in names -%}
            {{ alias }}.{{ name }}{{ ",\n    " if not loop.last }}
        {%- endfor -%}
    {%- else -%}
        {{ alias }}.*
    {%- endif -%}
{%- endmacro %}

{#
    What a person calls a row's activity (or campaign), as select items of `alias` (a join of
    int_campaign_activities or int_campaigns): the same four names on every mart.
#}
{% macro cc_names(alias) -%}
    {{ alias }}.campaign_name,
    {{ alias }}.subject,
    {{ alias }}.role,
    {{ alias }}.sent_time
{%- endmacro %}
