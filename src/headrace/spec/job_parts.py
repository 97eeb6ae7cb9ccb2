"""The job-level parts of the settings models: notifications, health, triggers, environments."""

from __future__ import annotations

import datetime as _dt
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

PauseStatus = Literal["PAUSED", "UNPAUSED"]
Source = Literal["WORKSPACE", "GIT"]
HealthMetric = Literal[
    "RUN_DURATION_SECONDS",
    "STREAMING_BACKLOG_BYTES",
    "STREAMING_BACKLOG_RECORDS",
    "STREAMING_BACKLOG_SECONDS",
    "STREAMING_BACKLOG_FILES",
]

PARAMETER_NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"


def _scalar_to_str(value: Any) -> Any:
    """Coerce a YAML/JSON scalar to the string the Jobs API holds (`default: 3` -> "3")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, _dt.date):
        return value.isoformat()
    # YAML `default:` with nothing after it is an empty value, not a missing one.
    return "" if value is None else value


Str = Annotated[str, BeforeValidator(_scalar_to_str)]
# Bounded so every derived time (now + timeout, start + retry interval) fits in 64 bits.
MAX_DURATION = 10**12
NonNegative = Annotated[int, Field(ge=0, le=MAX_DURATION)]
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
Loose = dict[str, Any]


class SpecModel(BaseModel):
    """Base of every spec model: immutable, and unknown fields are errors, not silence."""

    # defer_build: schemas are built on first validation, so importing the models stays cheap
    # for layers that only need the types.
    model_config = ConfigDict(
        extra="forbid", frozen=True, coerce_numbers_to_str=True, defer_build=True
    )


# -- notifications and health -----------------------------------------------------------------


class HealthRule(SpecModel):
    """One health threshold, e.g. RUN_DURATION_SECONDS GREATER_THAN 600."""

    metric: HealthMetric
    op: Literal["GREATER_THAN"]
    value: Int64


class HealthRules(SpecModel):
    """Health thresholds of a job or task."""

    rules: list[HealthRule] = []


class EmailNotifications(SpecModel):
    """Addresses to mail per run event."""

    on_start: list[str] = []
    on_success: list[str] = []
    on_failure: list[str] = []
    on_duration_warning_threshold_exceeded: list[str] = []
    on_streaming_backlog_exceeded: list[str] = []
    no_alert_for_skipped_runs: bool | None = None


class Webhook(SpecModel):
    """A notification destination, by id."""

    id: str


class WebhookNotifications(SpecModel):
    """Webhook destinations per run event."""

    on_start: list[Webhook] = []
    on_success: list[Webhook] = []
    on_failure: list[Webhook] = []
    on_duration_warning_threshold_exceeded: list[Webhook] = []
    on_streaming_backlog_exceeded: list[Webhook] = []


class JobNotificationSettings(SpecModel):
    """Job-level notification switches."""

    no_alert_for_skipped_runs: bool | None = None
    no_alert_for_canceled_runs: bool | None = None


class TaskNotificationSettings(SpecModel):
    """Task-level notification switches."""

    alert_on_last_attempt: bool | None = None
    no_alert_for_skipped_runs: bool | None = None
    no_alert_for_canceled_runs: bool | None = None


# -- schedules and triggers -------------------------------------------------------------------


class CronSchedule(SpecModel):
    """A Quartz cron schedule evaluated in a time zone."""

    quartz_cron_expression: str
    timezone_id: str
    pause_status: PauseStatus = "UNPAUSED"


class PeriodicTrigger(SpecModel):
    """Fire every `interval` `unit`s."""

    interval: int = Field(ge=1, le=10**6)
    unit: Literal["MINUTES", "HOURS", "DAYS", "WEEKS"]


class FileArrivalTrigger(SpecModel):
    """Fire when new files appear under `url`."""

    url: str
    min_time_between_triggers_seconds: NonNegative | None = None
    wait_after_last_change_seconds: NonNegative | None = None


# `catalog.schema.table`, one to three parts, each a plain or `backquoted` name: the watcher
# maps names onto folders of the data directory, so a `/` or an empty part never gets there.
_TABLE_NAME = re.compile(r"(?:`[^`/\\]+`|[A-Za-z0-9_$-]+)(?:\.(?:`[^`/\\]+`|[A-Za-z0-9_$-]+)){0,2}")


def _table_name(value: str) -> str:
    if not _TABLE_NAME.fullmatch(value):
        raise ValueError(
            "must be a table name: [catalog.][schema.]table, each part letters, digits, _ $ -"
            " or `backquoted` (no /)"
        )
    return value


TableName = Annotated[str, AfterValidator(_table_name)]


class TableUpdateTrigger(SpecModel):
    """Fire when listed tables are updated."""

    table_names: Annotated[list[TableName], Field(min_length=1)]
    condition: Literal["ANY_UPDATED", "ALL_UPDATED"] | None = None
    min_time_between_triggers_seconds: NonNegative | None = None
    wait_after_last_change_seconds: NonNegative | None = None


TRIGGER_KINDS: tuple[str, ...] = (
    "periodic",
    "file_arrival",
    "table_update",
    "table",
    "job_completion",
    "model",
    "sql_condition",
)


class TriggerSettings(SpecModel):
    """What starts runs besides the cron schedule; exactly one kind."""

    pause_status: PauseStatus | None = None
    periodic: PeriodicTrigger | None = None
    file_arrival: FileArrivalTrigger | None = None
    table_update: TableUpdateTrigger | None = None
    table: Loose | None = None  # deprecated alias of table_update, echoed only
    job_completion: Loose | None = None
    model: Loose | None = None
    sql_condition: Loose | None = None

    @property
    def kinds(self) -> list[str]:
        """Names of the trigger kinds that are set."""
        return [k for k in TRIGGER_KINDS if getattr(self, k) is not None]


class Continuous(SpecModel):
    """Keep one run always active."""

    pause_status: PauseStatus | None = None
    task_retry_mode: Literal["NEVER", "ON_FAILURE"] | None = None
    maintenance_window: Loose | None = None


class Queue(SpecModel):
    """Whether runs over max_concurrent_runs wait in a queue."""

    enabled: bool


class EnvironmentSpec(SpecModel):
    """A Python environment: pip dependencies and a base version."""

    client: str | None = None
    environment_version: str | None = None
    base_environment: str | None = None
    dependencies: list[str] = []
    java_dependencies: list[str] | None = None


class Environment(SpecModel):
    """A named environment that tasks select with `environment_key`."""

    environment_key: str
    spec: EnvironmentSpec


class JobParameterDefinition(SpecModel):
    """A job parameter and its default value."""

    name: Annotated[str, StringConstraints(pattern=PARAMETER_NAME_PATTERN)]
    default: Str
