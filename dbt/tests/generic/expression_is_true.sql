{#- Every row satisfies `expression` (a SQL boolean over the model's columns). -#}
{% test expression_is_true(model, expression) %}
select *
from {{ model }}
where not ({{ expression }})
{% endtest %}
