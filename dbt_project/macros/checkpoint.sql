{#-
    DuckDB keeps the rows a model just wrote in its buffer pool until a checkpoint moves them
    into build.duckdb; at its own 16MB threshold that checkpoint can come several models later,
    and meanwhile those blocks crowd the pool. A nightly build right after a full rebuild ran out
    of a 384MB pool 2 times of 2 without this, and passed 2 of 2 with it (docs/warehouse.md,
    "A checkpoint after every model"). Spark has no checkpoint: nothing is run there.
-#}
{% macro checkpoint_after_model() -%}
    {{ return(adapter.dispatch("checkpoint_after_model")()) }}
{%- endmacro %}

{% macro default__checkpoint_after_model() -%}
    checkpoint
{%- endmacro %}

{% macro spark__checkpoint_after_model() -%}
{%- endmacro %}
