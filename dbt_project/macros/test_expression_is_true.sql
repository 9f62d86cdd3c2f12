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
