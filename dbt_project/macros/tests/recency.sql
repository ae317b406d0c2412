{#- The newest value of a timestamp column is no older than `interval` `datepart`s before now. -#}
{% test recency(model, field, datepart, interval) %}
    select max({{ field }}) as most_recent
    from {{ model }}
    having max({{ field }}) is null
        or max({{ field }}) < now() - interval '{{ interval }}' {{ datepart }}
{% endtest %}
