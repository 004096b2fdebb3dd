{#
  Helpers shared by the staging, intermediate and mart models (money, business dates,
  incremental windows). The lake macros (create_lake_tables, local_timezone) live in lake.sql.
#}

{#- Money as the marts carry it: Decimal(18, 2) KGS, never Float; NULL (nothing) is 0.00. -#}
{% macro money(expr) -%}
  CAST(ifNull({{ expr }}, 0), 'Decimal(18, 2)')
{%- endmacro %}

{#- The same, keeping NULL (staging: not_null tests must still see missing values). -#}
{% macro money_or_null(expr) -%}
  CAST({{ expr }}, 'Nullable(Decimal(18, 2))')
{%- endmacro %}

{#- The business (Asia/Bishkek) date of a UTC instant. -#}
{% macro local_date(ts) -%}
  toDate({{ ts }}, {{ local_timezone() }})
{%- endmacro %}

{#- An instant as the marts carry it: DateTime64(6, 'UTC'). -#}
{% macro utc(ts) -%}
  toTimeZone(CAST({{ ts }}, 'Nullable(DateTime64(6, \'UTC\'))'), 'UTC')
{%- endmacro %}

{#
  Incremental models rebuild whole keys (a shop's day, a device's day) with delete+insert:
  every key touched by a lake row that the mart may not have seen yet is recomputed from
  ALL of its events, so late events (a terminal's offline backlog, a refund days later)
  land exactly, never twice.

  "May not have seen yet" = landed (_ingested_at) after the newest landing time the model
  has already absorbed (max of its `watermark` column), minus a safety lookback that covers
  the landing's commit latency and clock skew between hosts (var
  `incremental_lookback_hours`, default 24). A row stamped at t becomes visible by t +
  latency, and the previous build read only rows visible when it ran, so every row it
  missed has _ingested_at > watermark - lookback as long as latency < lookback.
  `dbt build --full-refresh` recomputes everything.
#}
{% macro ingested_since(watermark='_ingested_through') -%}
  (select max({{ watermark }}) - toIntervalHour({{ var('incremental_lookback_hours', 24) }})
   from {{ this }})
{%- endmacro %}
