{{ config(severity='warn') }}
{#
    Every campaign rate computed from the events, rounded to one decimal, equals Constant
    Contact's own percent in the newest email_campaign_stats snapshot (a zero denominator: our
    null vs CC's 0). Campaigns whose stats were refreshed before their newest event are skipped
    (CC's stats lag the events). A warning, not an error: CC's figures are outside our control.
#}
{%- set rates = {
    'open_rate': 'open', 'click_rate': 'click', 'bounce_rate': 'bounce',
    'did_not_open_rate': 'did_not_open', 'unsubscribe_rate': 'unsubscribe',
    'mobile_open_rate': 'mobile_open', 'desktop_open_rate': 'desktop_open',
    'mobile_click_rate': 'mobile_click', 'desktop_click_rate': 'desktop_click',
} -%}

with

stats as (

    select
        *,
        row_number() over (
            partition by campaign_id order by snapshot_date desc, captured_at desc
        ) as recency
    from {{ ref('stg_constant_contact__email_campaign_stats') }}

),

compared as (

    select
        campaigns.campaign_id
        {%- for ours, theirs in rates.items() %},
        round(cast(coalesce(campaigns.{{ ours }}, 0) as numeric), 1) as {{ ours }},
        round(cast(coalesce(stats.percents_{{ theirs }}, 0) as numeric), 1) as cc_{{ theirs }}
        {%- endfor %}
    from {{ ref('fct_campaign_performance') }} as campaigns
    inner join stats
        on campaigns.campaign_id = stats.campaign_id
        and stats.recency = 1
    where stats.last_refresh_time >= campaigns.last_event_time
        and stats.percents_open is not null  -- v2 reports no percents

)

select *
from compared
where
{%- for ours, theirs in rates.items() %}
    {{ 'or ' if not loop.first }}{{ ours }} <> cc_{{ theirs }}
{%- endfor %}
