{#
    Batches of a full build of the event models (fct_email_events,
    int_contact_activities_aggregated, dim_contact_engagement): predicates that split the
    model's input into parts of about `cc_batch_rows` rows each (a var), every part grouped on
    its own, in a statement of its own (`cc_batched_incremental` below).

    Why: DuckDB's hash aggregate over all 10,000,000 events (5.5 million contacts) at dbt's
    160MB spills nearly everything to disk; the same grouping of a part that fits in memory
    spills nothing, and the parts run one after another on one thread. A part never splits a
    group: the events models group per activity (a part is a list of whole activities, which on
    DuckDB also prunes the lake's files to theirs), the contact dimension per contact (a part
    is a hash bucket of the contact id).

    Elsewhere (Postgres, which plans and spills its own aggregates) a build is one part
    (`true`). An incremental build reads only what changed and passes no batches.
#}

{#
    Whether the relations can be counted: dbt runs queries (`execute`) and each exists. A
    `dbt compile` of a fresh warehouse has none of them; it shows one part.
#}
{% macro cc_all_exist(relations) -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- for relation in relations -%}
        {%- if load_relation(relation) is none -%}
            {{ return(false) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(true) }}
{%- endmacro %}

{% macro cc_activity_batches(relations) -%}
    {{ return(adapter.dispatch('cc_activity_batches')(relations)) }}
{%- endmacro %}

{% macro default__cc_activity_batches(relations) -%}
    {{ return(['true']) }}
{%- endmacro %}

{#
    Lists of whole activities of about `cc_batch_rows` rows together in `relations` (the
    rows of each activity counted from the Parquet footers or the table's row groups: a
    fraction of a second over 10,000,000 events), as `campaign_activity_id in (...)`.
#}
{% macro duckdb__cc_activity_batches(relations) -%}
    {%- if not cc_all_exist(relations) -%}
        {{ return(['true']) }}
    {%- endif -%}
    {%- set counted -%}
        select campaign_activity_id, sum(n) as n
        from (
        {%- for relation in relations %}
            select campaign_activity_id, count(*) as n from {{ relation }} group by 1
            {{ 'union all' if not loop.last }}
        {%- endfor %}
        )
        group by 1
        order by 1
    {%- endset -%}
    {%- set ns = namespace(batches=[], current=[], rows=0) -%}
    {%- for activity, n in run_query(counted).rows -%}
        {%- if activity is none -%}
            {%- do ns.batches.append('campaign_activity_id is null') -%}
        {%- else -%}
            {%- if ns.current and ns.rows + n > var('cc_batch_rows') -%}
                {%- do ns.batches.append('campaign_activity_id in (' ~ ns.current | join(', ') ~ ')') -%}
                {%- set ns.current = [] -%}
                {%- set ns.rows = 0 -%}
            {%- endif -%}
            {%- set ns.current = ns.current + ["'" ~ activity | replace("'", "''") ~ "'"] -%}
            {%- set ns.rows = ns.rows + n -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if ns.current -%}
        {%- do ns.batches.append('campaign_activity_id in (' ~ ns.current | join(', ') ~ ')') -%}
    {%- endif -%}
    {{ return(ns.batches or ['true']) }}
{%- endmacro %}

{% macro cc_hash_batches(relation, column) -%}
    {{ return(adapter.dispatch('cc_hash_batches')(relation, column)) }}
{%- endmacro %}

{% macro default__cc_hash_batches(relation, column) -%}
    {{ return(['true']) }}
{%- endmacro %}

{#
    Hash buckets of `column` of about five times `cc_batch_rows` rows of `relation` each:
    every part scans the whole relation's column again, so the parts are fewer and larger than
    the activity lists, which prune (the contact dimension over 9.1 million aggregate rows, CPU
    seconds: one part 23.1, 2 buckets 17.2, 3 15.6, 4 15.8, 6 16.3, 10 19.5).
#}
{% macro duckdb__cc_hash_batches(relation, column) -%}
    {%- if not cc_all_exist([relation]) -%}
        {{ return(['true']) }}
    {%- endif -%}
    {%- set rows = run_query('select count(*) from ' ~ relation).columns[0].values()[0] -%}
    {%- set parts = (rows - 1) // (5 * var('cc_batch_rows')) + 1 -%}
    {%- if parts <= 1 -%}
        {{ return(['true']) }}
    {%- endif -%}
    {%- set batches = [] -%}
    {%- for part in range(parts) -%}
        {%- do batches.append('hash(' ~ column ~ ') % ' ~ parts ~ ' = ' ~ part) -%}
    {%- endfor -%}
    {{ return(batches) }}
{%- endmacro %}

{#
    What separates the parts of a full build in a model's compiled code: each part is a whole
    query (`cc_batched_incremental` runs them one after another).
#}
{% macro cc_next_part() -%}
    {{ return('\n-- cc_next_part\n') }}
{%- endmacro %}

{#
    An incremental model whose full build runs in parts. The model's SQL is one query per part
    (`cc_next_part()` between them): a full build creates the table from the first and inserts
    each of the others, one statement each, so that DuckDB frees one part's aggregates before
    the next (one statement of all the parts, a `union all`, was no faster than no parts at all
    for the event fact and ran the aggregate out of memory: DuckDB keeps every part's
    pipelines, and a CTE read by each part, alive together). A query of one part, which is
    every incremental build's, is dbt's own incremental materialization. A rebuild of an
    existing table is built beside it and swapped in, as dbt's is.
#}
{% materialization cc_batched_incremental, default %}
    {%- set parts = compiled_code.split(cc_next_part()) -%}
    {%- if parts | length == 1 -%}
        {%- set name = 'materialization_incremental_' ~ adapter.type() -%}
        {%- if name not in context -%}
            {%- set name = 'materialization_incremental_default' -%}
        {%- endif -%}
        {{ return(context[name]()) }}
    {%- endif -%}

    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
    {%- set backup_relation = make_backup_relation(target_relation, 'table') -%}
    {{ drop_relation_if_exists(load_cached_relation(intermediate_relation)) }}
    {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {% call statement('main') %}
        {{ create_table_as(False, intermediate_relation, parts[0]) }}
    {% endcall %}
    {% for part in parts[1:] %}
        {% call statement('part_' ~ loop.index) %}
            insert into {{ intermediate_relation }} {{ part }}
        {% endcall %}
    {% endfor %}
    {% if existing_relation is not none %}
        {% do adapter.rename_relation(existing_relation, backup_relation) %}
    {% endif %}
    {% do adapter.rename_relation(intermediate_relation, target_relation) %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do adapter.commit() %}
    {{ drop_relation_if_exists(backup_relation) }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
