"""Limits shared by the layers (the runtime enforces them in tasks, the worker again after)."""

# Databricks' documented limit for one task value, serialised as JSON.
MAX_TASK_VALUE_BYTES = 48 * 1024

# Databricks returns at most the first 5 MB of a notebook's exit value (get-output).
MAX_NOTEBOOK_RESULT_BYTES = 5 * 1024 * 1024
# What a task may report as its output (notebook result, SQL preview) in all.
MAX_OUTPUT_BYTES = MAX_NOTEBOOK_RESULT_BYTES + 1024 * 1024

# --- Input sizes (issue 11): what jobs/create, runs/submit, `validate` and `run` accept. ---
# Documented in docs/limits.md; the Databricks figures are from the Jobs API 2.2 reference.

# A request body (the API answers 413); `HEADRACE_MAX_REQUEST_BYTES` overrides it.
MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024
# A job file read by `headrace validate`, `run` or a bundle (YAML or JSON).
MAX_SPEC_FILE_BYTES = 10 * 1024 * 1024
# Lists and objects inside lists and objects, counted from the settings (or the body).
MAX_NESTING_DEPTH = 64
# Databricks: "The maximum length is 4096 bytes in UTF-8 encoding" (job name, run_name).
MAX_JOB_NAME_BYTES = 4096
# Databricks: "The maximum length is 27700 characters" (a job's description; tasks' too here).
MAX_DESCRIPTION_CHARS = 27700
# Databricks: tasks "supports up to 1000 elements".
MAX_TASKS_PER_JOB = 1000
MAX_TASK_KEY_CHARS = 100
MAX_PARAMETER_NAME_CHARS = 255
MAX_PARAMETER_VALUE_BYTES = 64 * 1024
# A key of any mapping in a job's settings (tags, environment variables, spark_conf, ...).
MAX_KEY_CHARS = 1024
# Any other text in a job's settings: one argv or environment string on Linux is at most
# 128 KiB (MAX_ARG_STRLEN), and commands and parameters reach task processes that way.
MAX_STRING_BYTES = 128 * 1024
# A YAML document with every alias expanded ("billion laughs" files are a few hundred bytes).
MAX_YAML_EXPANDED_NODES = 250_000
MAX_YAML_EXPANDED_BYTES = 2 * MAX_SPEC_FILE_BYTES
