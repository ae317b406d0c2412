{#-
    Every value of `field` in the model `of` is a value of the tested column: the reverse of
    dbt's relationships test. The API leans on it: without a segment filter it counts the
    customer-level marts without joining them to mart_customer_profile, which is exact only
    while the profile holds every customer they can name (serving/sql.py, segment_join).
-#}
{% test includes_every(model, column_name, of, field) %}
    select parent.{{ field }} as missing_value
    from {{ of }} as parent
    left join {{ model }} as child on parent.{{ field }} = child.{{ column_name }}
    where parent.{{ field }} is not null and child.{{ column_name }} is null
{% endtest %}
