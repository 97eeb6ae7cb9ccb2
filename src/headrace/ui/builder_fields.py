"""The job builder form's fields (issue 17): which settings the form shows, each with its
kind, and the choices of its selects, all read from the spec's own types. Used by
`builder_form` (the mapping) and the form's templates."""

from __future__ import annotations

from typing import get_args

from headrace.engine.jobs import LEVELS as ENGINE_LEVELS
from headrace.spec.job_parts import HealthMetric, PauseStatus
from headrace.spec.models import TASK_TYPES, ConditionOp, RunIf

# A field's kind says how its text maps to a value: text, int, bool, lines (a list, one per
# line), kv (a mapping, `key=value` per line), or a select's choices.
RUN_IF = list(get_args(RunIf))
CONDITION_OPS = list(get_args(ConditionOp))
PAUSE = list(get_args(PauseStatus))
HEALTH_METRICS = list(get_args(HealthMetric))
LEVELS = list(ENGINE_LEVELS)  # the engine's permission levels, lowest first
PRINCIPAL_KINDS = ["user_name", "group_name", "service_principal_name"]
TRIGGER_KINDS = ["none", "schedule", "file_arrival", "periodic", "table_update", "continuous"]

JOB_FIELDS: list[tuple[str, str]] = [
    ("name", "text"),
    ("description", "text"),
    ("max_concurrent_runs", "int"),
    ("timeout_seconds", "int"),
    ("tags", "kv"),
    ("email_notifications.on_start", "lines"),
    ("email_notifications.on_success", "lines"),
    ("email_notifications.on_failure", "lines"),
    ("email_notifications.on_duration_warning_threshold_exceeded", "lines"),
    ("notification_settings.no_alert_for_skipped_runs", "bool"),
    ("notification_settings.no_alert_for_canceled_runs", "bool"),
]
TRIGGER_FIELDS: dict[str, list[tuple[str, str]]] = {
    "schedule": [
        ("schedule.quartz_cron_expression", "text"),
        ("schedule.timezone_id", "text"),
        ("schedule.pause_status", "select"),
    ],
    "periodic": [
        ("trigger.periodic.interval", "int"),
        ("trigger.periodic.unit", "select"),
    ],
    "file_arrival": [
        ("trigger.file_arrival.url", "text"),
        ("trigger.file_arrival.min_time_between_triggers_seconds", "int"),
        ("trigger.file_arrival.wait_after_last_change_seconds", "int"),
    ],
    "table_update": [
        ("trigger.table_update.table_names", "lines"),
        ("trigger.table_update.condition", "select"),
        ("trigger.table_update.min_time_between_triggers_seconds", "int"),
        ("trigger.table_update.wait_after_last_change_seconds", "int"),
    ],
    "continuous": [("continuous.pause_status", "select")],
}
TRIGGER_PAUSE = ("trigger.pause_status", "select")  # one field for the three trigger kinds
TASK_FIELDS: list[tuple[str, str]] = [
    ("task_key", "text"),
    ("description", "text"),
    ("run_if", "select"),
    ("max_retries", "int"),
    ("min_retry_interval_millis", "int"),
    ("retry_on_timeout", "bool"),
    ("timeout_seconds", "int"),
    ("disabled", "bool"),
    ("job_cluster_key", "text"),
    ("environment_key", "text"),
    ("email_notifications.on_failure", "lines"),
]
# The fields the form shows per task type; the other types are edited as YAML text.
TYPE_FIELDS: dict[str, list[tuple[str, str]]] = {
    "notebook_task": [("notebook_path", "notebook"), ("base_parameters", "kv")],
    "spark_python_task": [("python_file", "file"), ("parameters", "lines")],
    "python_wheel_task": [
        ("package_name", "text"),
        ("entry_point", "text"),
        ("parameters", "lines"),
        ("named_parameters", "kv"),
    ],
    "shell_command_task": [
        ("command", "textarea"),
        ("working_directory", "text"),
        ("env", "kv"),
    ],
    "condition_task": [("op", "select"), ("left", "text"), ("right", "text")],
    "sql_task": [
        ("warehouse_id", "text"),
        ("query.query_text", "textarea"),
        ("file.path", "file"),
        ("parameters", "kv"),
    ],
    "run_job_task": [("job_id", "job"), ("job_parameters", "kv")],
    "for_each_task": [("inputs", "text"), ("concurrency", "int")],
}
LOOSE_TYPES = [t for t in TASK_TYPES if t not in TYPE_FIELDS]
CHOICES: dict[str, list[str]] = {
    "run_if": RUN_IF,
    "op": CONDITION_OPS,
    "pause_status": PAUSE,
    "unit": ["MINUTES", "HOURS", "DAYS", "WEEKS"],
    "condition": ["ANY_UPDATED", "ALL_UPDATED"],
    "metric": HEALTH_METRICS,
    "permission_level": LEVELS,
    "who_kind": PRINCIPAL_KINDS,
}
# List rows: form prefix -> (settings path, fields); a row whose fields are all empty, or
# marked `.remove`, is left out.
ROWS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "param": ("parameters", [("name", "text"), ("default", "text")]),
    "health": (
        "health.rules",
        [("metric", "select"), ("op", "select"), ("value", "int")],
    ),
    "cluster": (
        "job_clusters",
        [
            ("job_cluster_key", "text"),
            ("new_cluster.spark_version", "text"),
            ("new_cluster.node_type_id", "text"),
            ("new_cluster.num_workers", "int"),
        ],
    ),
    "env": (
        "environments",
        [
            ("environment_key", "text"),
            ("spec.client", "text"),
            ("spec.dependencies", "lines"),
        ],
    ),
    "acl": (
        "access_control_list",
        [("who_kind", "select"), ("who", "text"), ("permission_level", "select")],
    ),
}
ROW_PATHS = {"task": "tasks", **{p: path for p, (path, _) in ROWS.items()}}


def choices(name: str) -> list[str]:
    """The options of a select field, by its name."""
    if name.startswith("health.") and name.endswith(".op"):
        return ["GREATER_THAN"]
    return CHOICES.get(name.rsplit(".", 1)[-1], [])
