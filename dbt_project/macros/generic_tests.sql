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
