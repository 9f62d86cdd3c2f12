{#
    The mobile (mobile + tablet) events of one event type over an activity's per-contact rows:
    null, unknown rather than zero, when the activity has such events but none carries a
    device type (a v2 account's events carry none); 0 when it has no such events.
#}
{% macro cc_mobile_events(event_type) -%}
    case
        when sum(case when event_type = '{{ event_type }}' then device_events else 0 end) = 0
            and sum(case when event_type = '{{ event_type }}' then 1 else 0 end) > 0
            then null
        else sum(case when event_type = '{{ event_type }}' then mobile_events else 0 end)
    end
{%- endmacro %}
