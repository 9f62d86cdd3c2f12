{#
    A model's schema is exactly its configured custom schema (staging, intermediate, marts),
    not dbt's default `<target schema>_<custom>`, so BI users find `marts.fct_...`. Models
    without one go to the target's schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
