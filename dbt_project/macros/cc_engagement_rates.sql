{#- Constant Contact's rates (DESIGN §6) over the engagement counts of one row: one definition
    for the activity and the campaign marts, so the two can never disagree. -#}
{% macro cc_engagement_rates() -%}
    {{ cc_percent('opens', 'delivered') }} as open_rate,
    {{ cc_percent('clicks', 'opens') }} as click_rate,
    {{ cc_percent('clicks', 'delivered') }} as click_through_rate,
    {{ cc_percent('bounces', 'sends') }} as bounce_rate,
    {{ cc_percent('not_opened', 'delivered') }} as did_not_open_rate,
    {{ cc_percent('optouts', 'delivered') }} as unsubscribe_rate,
    {{ cc_percent('mobile_opens_all', 'opens_all') }} as mobile_open_rate,
    {{ cc_percent('opens_all - mobile_opens_all', 'opens_all') }} as desktop_open_rate,
    {{ cc_percent('mobile_clicks_all', 'clicks_all') }} as mobile_click_rate,
    {{ cc_percent('clicks_all - mobile_clicks_all', 'clicks_all') }} as desktop_click_rate
{%- endmacro %}
