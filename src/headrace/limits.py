"""Limits shared by the layers (the runtime enforces them in tasks, the worker again after)."""

# Databricks' documented limit for one task value, serialised as JSON.
MAX_TASK_VALUE_BYTES = 48 * 1024
