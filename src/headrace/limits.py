"""Limits shared by the layers (the runtime enforces them in tasks, the worker again after)."""

# Databricks' documented limit for one task value, serialised as JSON.
MAX_TASK_VALUE_BYTES = 48 * 1024

# Databricks returns at most the first 5 MB of a notebook's exit value (get-output).
MAX_NOTEBOOK_RESULT_BYTES = 5 * 1024 * 1024
# What a task may report as its output (notebook result, SQL preview) in all.
MAX_OUTPUT_BYTES = MAX_NOTEBOOK_RESULT_BYTES + 1024 * 1024
