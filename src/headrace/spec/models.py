"""Job settings as pydantic models, with the Jobs API 2.2 field names (`JobSettings`, `Task`)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, StringConstraints

from headrace.errors import SpecError, SpecIssue
from headrace.spec.job_parts import (
    TRIGGER_KINDS,
    Continuous,
    CronSchedule,
    EmailNotifications,
    Environment,
    EnvironmentSpec,
    FileArrivalTrigger,
    HealthRule,
    HealthRules,
    JobNotificationSettings,
    JobParameterDefinition,
    Loose,
    NonNegative,
    PeriodicTrigger,
    Queue,
    Source,
    SpecModel,
    Str,
    TableUpdateTrigger,
    TaskNotificationSettings,
    TriggerSettings,
    Webhook,
    WebhookNotifications,
)

RunIf = Literal[
    "ALL_SUCCESS",
    "AT_LEAST_ONE_SUCCESS",
    "NONE_FAILED",
    "ALL_DONE",
    "AT_LEAST_ONE_FAILED",
    "ALL_FAILED",
]
ConditionOp = Literal[
    "EQUAL_TO",
    "NOT_EQUAL",
    "GREATER_THAN",
    "GREATER_THAN_OR_EQUAL",
    "LESS_THAN",
    "LESS_THAN_OR_EQUAL",
]
TASK_KEY_PATTERN = r"^[A-Za-z0-9_-]+$"


def _bool_to_str(value: Any) -> Any:
    """YAML reads `outcome: true` as a bool; the API wants the string "true"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _inputs_to_str(value: Any) -> Any:
    """Accept a YAML list for `for_each_task.inputs` and store it as the API's JSON text."""
    return json.dumps(value) if isinstance(value, list) else value


TaskKey = Annotated[str, StringConstraints(pattern=TASK_KEY_PATTERN, max_length=100)]
Outcome = Annotated[Literal["true", "false"] | None, BeforeValidator(_bool_to_str)]

__all__ = [
    "TASK_KEY_PATTERN",
    "TASK_TYPES",
    "TRIGGER_KINDS",
    "ConditionOp",
    "ConditionTask",
    "Continuous",
    "CronSchedule",
    "EmailNotifications",
    "Environment",
    "EnvironmentSpec",
    "FileArrivalTrigger",
    "ForEachTask",
    "HealthRule",
    "HealthRules",
    "JobNotificationSettings",
    "JobParameterDefinition",
    "JobSettings",
    "NotebookTask",
    "PeriodicTrigger",
    "PythonWheelTask",
    "Queue",
    "RunIf",
    "RunJobTask",
    "ShellCommandTask",
    "SparkPythonTask",
    "SqlTask",
    "SqlTaskFile",
    "SqlTaskQuery",
    "TableUpdateTrigger",
    "Task",
    "TaskDependency",
    "TaskNotificationSettings",
    "TriggerSettings",
    "Webhook",
    "WebhookNotifications",
    "task_type_message",
]


class NotebookTask(SpecModel):
    """Run a notebook (.ipynb or source .py)."""

    notebook_path: str
    base_parameters: dict[str, Str] = {}
    source: Source | None = None
    warehouse_id: str | None = None


class SparkPythonTask(SpecModel):
    """Run a Python file with argv parameters."""

    python_file: str
    parameters: list[Str] = []
    source: Source | None = None


class PythonWheelTask(SpecModel):
    """Call a wheel's entry point with positional or named parameters (not both)."""

    package_name: str
    entry_point: str
    parameters: list[Str] | None = None
    named_parameters: dict[str, Str] | None = None


class ShellCommandTask(SpecModel):
    """Run a shell command (a Headrace extension)."""

    command: str
    env: dict[str, Str] = {}
    working_directory: str | None = None


class ConditionTask(SpecModel):
    """Compare two strings after reference substitution; the outcome gates children."""

    op: ConditionOp
    left: Str
    right: Str


class SqlTaskQuery(SpecModel):
    """The SQL to run: inline `query_text` (a Headrace extension) or a saved query's id.

    Saved queries (`query_id`) live in a Databricks workspace; the model keeps the field so
    Databricks jobs load, and `validate_job` says it is not supported.
    """

    query_id: str | None = None
    query_text: str | None = None


class SqlTaskFile(SpecModel):
    """A .sql file."""

    path: str
    source: Source | None = None


class SqlTask(SpecModel):
    """Run SQL on a warehouse: inline SQL or a file (saved queries, alerts, dashboards: no)."""

    # Required on Databricks; here "default" (the embedded DuckDB warehouse) when omitted.
    warehouse_id: str = "default"
    query: SqlTaskQuery | None = None
    file: SqlTaskFile | None = None
    alert: Loose | None = None
    dashboard: Loose | None = None
    parameters: dict[str, Str] = {}


class RunJobTask(SpecModel):
    """Run another job and wait for it."""

    job_id: int = Field(ge=0, le=2**63 - 1)
    job_parameters: dict[str, Str] = {}
    notebook_params: dict[str, Str] | None = None
    python_params: list[Str] | None = None
    python_named_params: dict[str, Str] | None = None
    jar_params: list[Str] | None = None
    spark_submit_params: list[Str] | None = None
    sql_params: dict[str, Str] | None = None
    dbt_commands: list[str] | None = None
    pipeline_params: Loose | None = None


class ForEachTask(SpecModel):
    """Run a nested task once per element of `inputs`."""

    inputs: Annotated[str, BeforeValidator(_inputs_to_str)]
    concurrency: int = Field(default=1, ge=1, le=100)
    task: Task


class TaskDependency(SpecModel):
    """An upstream task; `outcome` only when the upstream is a condition_task."""

    task_key: str
    outcome: Outcome = None


TASK_TYPES: tuple[str, ...] = (
    "notebook_task",
    "spark_python_task",
    "python_wheel_task",
    "shell_command_task",
    "condition_task",
    "for_each_task",
    "sql_task",
    "run_job_task",
    "spark_jar_task",
    "spark_submit_task",
    "dbt_task",
    "pipeline_task",
)


class Task(SpecModel):
    """One node of a job's DAG; has exactly one task type (checked by `validate_job`)."""

    task_key: TaskKey
    description: str | None = None
    depends_on: list[TaskDependency] = []
    run_if: RunIf = "ALL_SUCCESS"
    max_retries: int = Field(default=0, ge=-1, le=10**9)
    min_retry_interval_millis: NonNegative = 0
    retry_on_timeout: bool = False
    timeout_seconds: NonNegative = 0
    disabled: bool = False
    health: HealthRules | None = None
    email_notifications: EmailNotifications | None = None
    webhook_notifications: WebhookNotifications | None = None
    notification_settings: TaskNotificationSettings | None = None
    environment_key: str | None = None
    # A Headrace extension: only workers serving this pool run the task (`headrace worker
    # --pool NAME`); until one is up the task waits, saying so.
    worker_pool: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] | None = None
    # A Headrace extension (issue 16): among waiting attempts, higher goes first; waiting ages
    # lower ones up (docs/priorities.md). None: the job's priority.
    priority: int | None = Field(default=None, ge=-100, le=100)
    environment_variables_key: str | None = None
    job_cluster_key: str | None = None
    existing_cluster_id: str | None = None
    new_cluster: Loose | None = None
    libraries: list[Loose] | None = None
    compute: Loose | None = None
    notebook_task: NotebookTask | None = None
    spark_python_task: SparkPythonTask | None = None
    python_wheel_task: PythonWheelTask | None = None
    shell_command_task: ShellCommandTask | None = None
    condition_task: ConditionTask | None = None
    for_each_task: ForEachTask | None = None
    sql_task: SqlTask | None = None
    run_job_task: RunJobTask | None = None
    spark_jar_task: Loose | None = None
    spark_submit_task: Loose | None = None
    dbt_task: Loose | None = None
    pipeline_task: Loose | None = None

    @property
    def task_types(self) -> list[str]:
        """Names of the task-type fields that are set (exactly one in a valid job)."""
        return [name for name in TASK_TYPES if getattr(self, name) is not None]

    @property
    def task_type(self) -> str:
        """Name of the one task-type field that is set, e.g. "shell_command_task".

        Raises:
            SpecError: when zero or several task types are set.
        """
        types = self.task_types
        if len(types) != 1:
            raise SpecError([SpecIssue("", task_type_message(self.task_key, types))])
        return types[0]

    @property
    def task_type_settings(self) -> Any:
        """The settings model (or loose dict) of the task's one task type."""
        return getattr(self, self.task_type)


def task_type_message(task_key: str, types: list[str]) -> str:
    """The reason a task does not have exactly one task type."""
    if not types:
        return f"task '{task_key}' has no task type; set exactly one of: {', '.join(TASK_TYPES)}"
    return f"task '{task_key}' has {len(types)} task types ({', '.join(types)}); set exactly one"


class JobSettings(SpecModel):
    """A job's settings, as in jobs/create, jobs/get `settings` and jobs/reset `new_settings`."""

    name: str = "Untitled"
    description: str | None = None
    tasks: list[Task] = []
    parameters: list[JobParameterDefinition] = []
    timeout_seconds: NonNegative = 0
    max_concurrent_runs: NonNegative = 1
    priority: int | None = Field(default=None, ge=-100, le=100)  # extension: docs/priorities.md
    tags: dict[str, Str] = {}
    schedule: CronSchedule | None = None
    trigger: TriggerSettings | None = None
    continuous: Continuous | None = None
    email_notifications: EmailNotifications | None = None
    webhook_notifications: WebhookNotifications | None = None
    notification_settings: JobNotificationSettings | None = None
    health: HealthRules | None = None
    queue: Queue | None = None
    environments: list[Environment] = []
    job_clusters: list[Loose] | None = None
    git_source: Loose | None = None
    run_as: Loose | None = None
    format: str | None = None
    edit_mode: str | None = None
    deployment: Loose | None = None
    parent_path: str | None = None
    budget_policy_id: str | None = None
    usage_policy_id: str | None = None
    performance_target: str | None = None
    duration_target: Any = None
    environment_variables: list[Loose] | None = None
    triggers: list[Loose] | None = None

    def task(self, task_key: str) -> Task:
        """The top-level task with this key.

        Raises:
            KeyError: no such task.
        """
        for task in self.tasks:
            if task.task_key == task_key:
                return task
        raise KeyError(task_key)
