{#
    A rate as a percent (0-100) at full precision: cast before dividing (Postgres truncates
    integer division) and null, not an error, when the denominator is 0.
#}
{% macro cc_percent(numerator, denominator) -%}
    (100.0 * cast({{ numerator }} as {{ cc_type_double() }}) / nullif({{ denominator }}, 0))
{%- endmacro %}

{#
    A 64-bit float. dbt.type_float() is `float`, which is double precision on Postgres but a
    32-bit REAL on DuckDB: too coarse for rates that must round to CC's figures.
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
