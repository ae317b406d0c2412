{#-
    Business-time-zone helpers: every day/week/month bucket goes through these. The zone is
    the dbt var `timezone` (PETPRO_TIMEZONE), never the session's, so a unit test can override
    it. DuckDB converts with ICU's timezone(); Spark's session zone is pinned to UTC
    (profiles.yml), under which from_utc_timestamp gives the wall-clock time DST-aware.
-#}

{% macro business_tz() -%}
    '{{ var("timezone") }}'
{%- endmacro %}

{#- A TIMESTAMPTZ as wall-clock time (TIMESTAMP without zone) in the business time zone. -#}
{% macro to_local(column) -%}
    {{ return(adapter.dispatch("to_local")(column)) }}
{%- endmacro %}

{% macro default__to_local(column) -%}
    timezone({{ business_tz() }}, {{ column }})
{%- endmacro %}

{% macro spark__to_local(column) -%}
    cast(from_utc_timestamp({{ column }}, {{ business_tz() }}) as timestamp_ntz)
{%- endmacro %}

{#- The business-time-zone calendar date of a TIMESTAMPTZ. -#}
{% macro local_date(column) -%}
    cast({{ to_local(column) }} as date)
{%- endmacro %}

{#- Monday of the ISO week / first day of the month of a DATE (both engines truncate alike). -#}
{% macro week_start(date_column) -%}
    cast(date_trunc('week', {{ date_column }}) as date)
{%- endmacro %}

{% macro month_start(date_column) -%}
    cast(date_trunc('month', {{ date_column }}) as date)
{%- endmacro %}

{#- ISO day of week of a DATE: 1 = Monday … 7 = Sunday. -#}
{% macro iso_day_of_week(date_column) -%}
    {{ return(adapter.dispatch("iso_day_of_week")(date_column)) }}
{%- endmacro %}

{% macro default__iso_day_of_week(date_column) -%}
    isodow({{ date_column }})
{%- endmacro %}

{% macro spark__iso_day_of_week(date_column) -%}
    (weekday({{ date_column }}) + 1)
{%- endmacro %}

{#- Microseconds since the epoch of a TIMESTAMPTZ (24-hour windows that ignore DST). -#}
{% macro epoch_microseconds(column) -%}
    {{ return(adapter.dispatch("epoch_microseconds")(column)) }}
{%- endmacro %}

{% macro default__epoch_microseconds(column) -%}
    epoch_us({{ column }})
{%- endmacro %}

{% macro spark__epoch_microseconds(column) -%}
    unix_micros({{ column }})
{%- endmacro %}

{#- The type of an instant (UTC timestamp): TIMESTAMPTZ in DuckDB, TIMESTAMP_LTZ in Spark. -#}
{% macro type_timestamptz() -%}
    {{ return(adapter.dispatch("type_timestamptz")()) }}
{%- endmacro %}

{% macro default__type_timestamptz() -%}
    timestamptz
{%- endmacro %}

{% macro spark__type_timestamptz() -%}
    timestamp_ltz
{%- endmacro %}

{#-
    Every date from `start` to `stop` (inclusive) by `step` (an interval such as
    `interval 7 day`), as a select-list expression producing one row per date.
-#}
{% macro date_series(start, stop, step) -%}
    {{ return(adapter.dispatch("date_series")(start, stop, step)) }}
{%- endmacro %}

{% macro default__date_series(start, stop, step) -%}
    unnest(generate_series(cast({{ start }} as timestamp), cast({{ stop }} as timestamp), {{ step }}))
{%- endmacro %}

{% macro spark__date_series(start, stop, step) -%}
    explode(sequence(cast({{ start }} as date), cast({{ stop }} as date), {{ step }}))
{%- endmacro %}

{#- The SQL list literal of the engagement activity types (dbt var). -#}
{% macro engagement_types_sql() -%}
    ({% for t in var("engagement_activity_types") %}'{{ t }}'{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}
