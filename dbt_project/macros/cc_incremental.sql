{#
    Helpers of the incremental models (fct_email_events, int_contact_activities_aggregated,
    dim_contact_engagement).

    cc_held_columns(): the lower-cased column names of the model's own table; called when
    cc_is_incremental(). A model reads only what changed when its table already has the column
    it keeps its place with (`captured_at`, `built_at`); a table built before that column
    existed is read whole once, and `on_schema_change='append_new_columns'` adds it.

    cc_epoch(): the earliest time, for a capture time that is null (files written before
    captured_at was recorded), so comparisons need no null case.

    cc_built_at(): this dbt invocation's start (dbt's run_started_at) as a timestamp: what a
    model stamps on the rows it recomputes, so the next model down can read only those.
#}
{#
    cc_is_incremental(): dbt's is_incremental() for these models. dbt's own asks for
    `materialized='incremental'`, and these are `cc_batched_incremental` (macros/cc_batches.sql):
    true when the model's table exists and the build is no --full-refresh.
#}
{% macro cc_is_incremental() -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set relation = adapter.get_relation(this.database, this.schema, this.table) -%}
    {{ return(relation is not none and relation.type == 'table' and not should_full_refresh()) }}
{%- endmacro %}

{% macro cc_held_columns() -%}
    {{ return(adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list) }}
{%- endmacro %}

{% macro cc_epoch() -%}
    cast('1970-01-01 00:00:00+00' as timestamp with time zone)
{%- endmacro %}

{% macro cc_built_at() -%}
    cast('{{ run_started_at.isoformat() }}' as timestamp with time zone)
{%- endmacro %}

