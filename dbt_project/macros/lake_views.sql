{#-
    Spark reads the Parquet lake through one view per source table in `<schema>_lake`,
    (re)created at the start of every run (dbt_project.yml on-run-start) over the lake URL
    (PETPRO_SPARK_LAKE_URL, set by warehouse/dbt.py: a local path, file://, s3a://, abfss://
    ...). A view lists the files again at every query, so new activity partitions are seen
    without any repair; the hive partition `event_date=...` becomes the column event_date.
    DuckDB needs nothing: its sources read the files through external_location.
-#}
{% macro create_lake_views() -%}
    {{ return(adapter.dispatch("create_lake_views")()) }}
{%- endmacro %}

{% macro default__create_lake_views() -%}
{%- endmacro %}

{% macro spark__create_lake_views() -%}
    {%- if execute -%}
        {%- set lake = env_var("PETPRO_SPARK_LAKE_URL").rstrip("/") -%}
        {%- set tables = [] -%}
        {%- for node in graph.sources.values() if node.source_name == "petpro" -%}
            {%- do tables.append(node) -%}
        {%- endfor -%}
        {%- if tables -%}
            {%- do run_query("create schema if not exists " ~ adapter.quote(tables[0].schema)) -%}
        {%- endif -%}
        {%- for node in tables -%}
            {%- set path = lake ~ "/raw/" ~ node.name -%}
            {%- do run_query(
                "create or replace view " ~ adapter.quote(node.schema) ~ "." ~ adapter.quote(node.identifier)
                ~ " as select * from parquet.`" ~ path ~ "`"
            ) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
