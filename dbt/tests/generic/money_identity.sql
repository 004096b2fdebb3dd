{#- An exact money identity on every row: `left` = `right`, to the tyiyn (Decimal, no
    tolerance). Failing rows show both sides and the difference. NULL on either side fails
    too (money is never missing in a mart). -#}
{% test money_identity(model, left, right) %}
select
    *,
    {{ left }}                                  as identity_left,
    {{ right }}                                 as identity_right,
    ({{ left }}) - ({{ right }})                as identity_difference
from {{ model }}
where not (({{ left }}) = ({{ right }}))
   or ({{ left }}) is null
   or ({{ right }}) is null
{% endtest %}
