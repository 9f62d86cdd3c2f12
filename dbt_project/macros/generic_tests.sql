{#
    Generic invariant test: rows where `expression` is false fail the test (null passes,
    as in dbt_utils.expression_is_true). Use on a model: data_tests: - expression_is_true:
    arguments: {expression: "delivered = sends - bounces"}
#}
{% test expression_is_true(model, expression, where_clause=none) %}
select *
from {{ model }}
where not ({{ expression }})
{%- if where_clause %} and ({{ where_clause }}){% endif %}
{% endtest %}

{#
    Generic test: no two rows share the combination of `combination_of_columns`.
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
select {{ combination_of_columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#
    Generic test: the model holds exactly the rows of `metric` over `columns` (both ways, null
    equal to null): a mart passes its email_metrics input through unchanged, only adding names.
#}
{% test cc_equals_metric(model, metric, columns) %}
{%- set listed = columns | join(', ') -%}
(select {{ listed }} from {{ model }} except select {{ listed }} from {{ metric }})
union all
(select {{ listed }} from {{ metric }} except select {{ listed }} from {{ model }})
{% endtest %}

{#
    Generic test for a model built incrementally per `key` (delete+insert): every value of
    `key` has rows of one build only (`built_at`). With the model a group by on its grain in
    each build, that makes the grain unique, for a scan of two columns instead of a group by
    of every row on the whole grain.
#}
{% test cc_rows_of_one_build(model, key) %}
select {{ key }}
from {{ model }}
group by {{ key }}
having count(distinct built_at) > 1
{% endtest %}

{#
    Generic test: the contact dimension counts exactly the events of `events` (sends, bounces,
    opt-outs, every open and click): a contact it lacks, or one it did not recompute after new
    events, makes a total differ. Two scans with a handful of sums, where a relationships test
    anti-joins every event with every contact.
#}
{% test cc_counts_every_event(model, events) %}
with

counted as (

    select
        sum(activities_sent) as sends,
        sum(activities_bounced) as bounces,
        sum(activities_opted_out) as optouts,
        sum(opens_all) as opens,
        sum(clicks_all) as clicks
    from {{ model }}

),

happened as (

    select
        sum(case when event_type = 'send' then 1 else 0 end) as sends,
        sum(case when event_type = 'bounce' then 1 else 0 end) as bounces,
        sum(case when event_type = 'optout' then 1 else 0 end) as optouts,
        sum(case when event_type = 'open' then 1 else 0 end) as opens,
        sum(case when event_type = 'click' then 1 else 0 end) as clicks
    from {{ events }}

)

select *
from counted
cross join happened
where counted.sends is distinct from happened.sends
    or counted.bounces is distinct from happened.bounces
    or counted.optouts is distinct from happened.optouts
    or counted.opens is distinct from happened.opens
    or counted.clicks is distinct from happened.clicks
{% endtest %}

{#
    Generic test: no two rows share a value of `column_name` (the rows dbt's `unique` fails),
    for the event fact's and the contact dimension's keys; with `per_account`, no two rows of
    one account (a contact id is the account's). On DuckDB the values are grouped by their
    64-bit hash first, and only the values whose hash repeats are grouped again: over
    10,000,000 32-character event ids that is 1.4 s where grouping the strings at dbt's
    160MB takes 4.5 s. A repeated value always repeats its hash, so no duplicate passes.
#}
{% test cc_unique(model, column_name, per_account=false) %}
{%- set columns = ['account', column_name] if per_account else [column_name] -%}
{{ adapter.dispatch('cc_unique_sql')(model, columns) }}
{% endtest %}

{% macro default__cc_unique_sql(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n_records
from {{ model }}
where {{ columns | last }} is not null
group by {{ columns | join(', ') }}
having count(*) > 1
{% endmacro %}

{% macro duckdb__cc_unique_sql(model, columns) %}
with

repeated as (

    select hash({{ columns | join(', ') }}) as hashed
    from {{ model }}
    where {{ columns | last }} is not null
    group by 1
    having count(*) > 1

)

select {{ columns | join(', ') }}, count(*) as n_records
from {{ model }}
where hash({{ columns | join(', ') }}) in (select hashed from repeated)
group by {{ columns | join(', ') }}
having count(*) > 1
{% endmacro %}

{#
    Generic test: dbt's `relationships` within an account: every non-null `column_name` of a
    row has a row of `to` with the same account and `field` (an id is the account's).
#}
{% test cc_relationships_per_account(model, column_name, to, field) %}
select child.account, child.{{ column_name }}
from {{ model }} as child
left join (select distinct account, {{ field }} from {{ to }}) as parent
    on child.account = parent.account
    and child.{{ column_name }} = parent.{{ field }}
where child.{{ column_name }} is not null
    and parent.{{ field }} is null
{% endtest %}
