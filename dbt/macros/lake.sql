{#
  The lake, as ClickHouse sees it: one DeltaLake-engine table per Delta table, in the
  `lake` database (var lake_database), declared as source `lake` in models/staging/*/_sources.yml.

  Runs as on-run-start (and as `dbt run-operation create_lake_tables`). Each table is
  recreated every run because ClickHouse captures the Delta schema at CREATE time (new
  rows/versions are read at query time; new columns only after a re-create).

  The landing job creates every catalog table (empty) when it starts, so a topic that has
  seen no event yet still has a table. A missing Delta table (no _delta_log: the landing
  job has never run) fails the run with a message naming it, instead of the engine's
  "No files in log segment".
#}

{# Every lake table ClickHouse reads -> its Delta URL: generated from the lake catalog
   (pipelines/lake_catalog.py) by warehouse.refresh.dbt_env(). No table is named here. #}
{% macro lake_tables() %}
  {{ return(fromjson(env_var('DBT_LAKE_TABLES'))) }}
{% endmacro %}

{% macro lake_credentials() -%}
  '{{ env_var("DBT_LAKE_ACCESS_KEY") }}', '{{ env_var("DBT_LAKE_SECRET_KEY") }}'
{%- endmacro %}

{% macro delta_log_files(url) %}
  {% set probe %}
    select count() from s3('{{ url }}_delta_log/*', {{ lake_credentials() }}, 'One')
  {% endset %}
  {{ return(run_query(probe).columns[0].values()[0]) }}
{% endmacro %}

{% macro create_lake_tables() %}
  {% if execute %}
    {% set db = var('lake_database') %}
    {% do run_query('CREATE DATABASE IF NOT EXISTS ' ~ adapter.quote(db)) %}
    {% for name, url in lake_tables().items() %}
      {% if url[-1] != '/' %}{% set url = url ~ '/' %}{% endif %}
      {% if delta_log_files(url) == 0 %}
        {{ exceptions.raise_compiler_error(
            "Lake table " ~ db ~ "." ~ name ~ ": no Delta table at " ~ url
            ~ " (no _delta_log). Has the landing job (python -m pipelines.landing) run yet?") }}
      {% endif %}
      {% do run_query(
          'CREATE OR REPLACE TABLE ' ~ adapter.quote(db) ~ '.' ~ adapter.quote(name)
          ~ ' ENGINE = DeltaLake(\'' ~ url ~ '\', ' ~ lake_credentials() ~ ')') %}
      {{ log("lake table " ~ db ~ "." ~ name ~ " -> " ~ url, info=True) }}
    {% endfor %}
  {% endif %}
{% endmacro %}

{# Business dates are local (settings.timezone, e.g. Asia/Bishkek). #}
{% macro local_timezone() -%}
  '{{ env_var("DBT_TIMEZONE") }}'
{%- endmacro %}
