"""dbt_task: dbt-core run in the task's own uv environment, on Headrace's warehouses."""
