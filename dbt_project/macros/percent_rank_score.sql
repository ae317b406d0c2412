{#-
    Quintile score 1-5 of int_customer_rfm_monthly, from a table of distinct values and how many
    buyers hold each: 1 + floor(5 x percent_rank), capped at 5, where percent_rank is
    (rank - 1) / (n - 1), rank - 1 the buyers with a value before this one in `order_by`
    (ties share it) and n the partition's buyers; 0 for a partition of one buyer, as SQL's
    percent_rank(). Equal to percent_rank() over the buyers themselves, with windows over a
    few thousand distinct values instead of every buyer (DuckDB and Spark alike).
-#}
{% macro percent_rank_score(buyers, partition_by, order_by) -%}
    cast(least(5, 1 + floor(5 * coalesce(
        cast(sum({{ buyers }}) over (
            partition by {{ partition_by }} order by {{ order_by }}
            rows between unbounded preceding and 1 preceding
        ) as double)
        / nullif(sum({{ buyers }}) over (partition by {{ partition_by }}) - 1, 0),
        0
    ))) as integer)
{%- endmacro %}
