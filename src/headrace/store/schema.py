"""The store's tables (SQLAlchemy Core). Only `headrace.store` touches them.

Times are epoch milliseconds (UTC), as on the Jobs API. JSON columns hold text so SQLite and
PostgreSQL store the same thing.
"""

from __future__ import annotations

from sqlalchemy import (
    DDL,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    event,
)

metadata = MetaData()
FIRST_ID = 1000  # runs, task runs and repairs share one id space, as on Databricks

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
Id = BigInteger().with_variant(Integer(), "sqlite")

counters = Table(
    "counters",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("job_id", Id, primary_key=True),
    Column("name", Text, nullable=False),
    Column("settings", Text, nullable=False),
    Column("source", Text),  # the spec file a local job came from
    Column("creator_user_name", Text),
    Column("created_time", BigInteger, nullable=False),
)
Index("ix_jobs_name", jobs.c.name)

workers = Table(
    "workers",
    metadata,
    Column("worker_id", String(64), primary_key=True),
    Column("host", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("proc_start", Text),  # /proc start time, so a reused pid is not taken for alive
    Column("slots", Integer, nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("heartbeat_at", BigInteger, nullable=False),
    Column("stopped_at", BigInteger),
    Column("pools", Text),  # comma-separated worker pools it serves besides the default one
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", Id, primary_key=True),
    Column("job_id", BigInteger, ForeignKey("jobs.job_id", ondelete="SET NULL")),
    Column("run_name", Text, nullable=False),
    Column("run_type", String(16), nullable=False),
    Column("trigger_type", String(32), nullable=False),
    Column("settings", Text, nullable=False),  # the JobSettings the run executes
    Column("job_parameters", Text, nullable=False),  # [{name, default, value}]
    Column("life_cycle_state", String(24), nullable=False),
    Column("result_state", String(40)),
    Column("state_message", Text, nullable=False, default=""),
    Column("stop_reason", String(24)),  # CANCELED / TIMEDOUT once a stop was requested
    Column("coordinator_id", String(64)),  # the worker process that drives the run
    Column("repair_count", Integer, nullable=False, default=0),
    Column("latest_repair_id", BigInteger),
    Column("timeout_at", BigInteger),
    Column("created_time", BigInteger, nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger),
    Column("job_version", Integer),  # the job_versions row the run executes
    Column("run_as", Text),  # the user the run acts for
    Column("idempotency_token", String(64)),  # run-now / submit retried with it: same run
    Column("trigger_info", Text),  # JSON: the parent task run of a run_job_task, trigger details
)
Index("ix_runs_job_start", runs.c.job_id, runs.c.start_time)
# Idempotency tokens are per user (issue 11): another user's token cannot block or find a run.
Index("ix_runs_idempotency", runs.c.run_as, runs.c.idempotency_token, unique=True)
Index("ix_runs_state", runs.c.life_cycle_state)

repairs = Table(
    "repairs",
    metadata,
    Column("repair_id", Id, primary_key=True),
    Column("run_id", BigInteger, ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("rerun_tasks", Text, nullable=False),  # JSON list of task keys
    Column("life_cycle_state", String(24), nullable=False),
    Column("result_state", String(40)),
    Column("state_message", Text, nullable=False, default=""),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger),
    # The run's outcome before this repair: the ORIGINAL / previous item of repair_history.
    Column("previous_result_state", String(40)),
    Column("previous_end_time", BigInteger),
)
Index("ix_repairs_run", repairs.c.run_id)

task_runs = Table(
    "task_runs",
    metadata,
    Column("task_run_id", Id, primary_key=True),
    Column("run_id", BigInteger, ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("task_key", Text, nullable=False),
    Column("parent_id", BigInteger),  # the for_each task run of an iteration
    Column("iteration", Integer),  # index of a for_each iteration
    Column("input", Text),  # JSON of a for_each iteration's input
    Column("repair_id", BigInteger),  # the repair that created this task run, if any
    Column("current", Boolean, nullable=False, default=True),  # False once a repair replaced it
    Column("life_cycle_state", String(24), nullable=False),
    Column("result_state", String(40)),
    Column("state_message", Text, nullable=False, default=""),
    Column("waiting_on", Integer, nullable=False, default=0),  # upstream tasks not yet terminal
    Column("attempt_number", Integer, nullable=False, default=0),
    Column("retry_at", BigInteger),
    Column("outcome", String(8)),  # condition task result: "true" / "false"
    Column("task_values", Text),  # JSON object set through dbutils.jobs.taskValues
    Column("resolved", Text),  # JSON of the parameters after reference substitution
    Column("error_code", String(40)),
    Column("start_time", BigInteger),
    Column("end_time", BigInteger),
)
Index("ix_task_runs_run_key", task_runs.c.run_id, task_runs.c.task_key)
# A run's task runs by state. On PostgreSQL only the live ones (the ACTIVE states; migration
# 0015): a task run's end then adds no entry, and lookups of live task runs (a run's open ones,
# the retries due) read no ended ones, however long the store's history. Every query naming
# a state here names ACTIVE ones (written out, so PostgreSQL proves they imply the predicate);
# tests/integration/test_store_indexes.py checks the plans and that the list is ACTIVE.
Index("ix_task_runs_run_state", task_runs.c.run_id, task_runs.c.life_cycle_state).ddl_if(
    dialect="sqlite"
)
_LIVE_TASK_RUN_STATES = (
    "'BLOCKED', 'PENDING', 'QUEUED', 'RUNNING', 'TERMINATING', 'WAITING_FOR_RETRY'"
)
event.listen(
    task_runs,
    "after_create",
    DDL(
        "CREATE INDEX ix_task_runs_run_state ON task_runs (run_id, life_cycle_state)"
        f" WHERE life_cycle_state IN ({_LIVE_TASK_RUN_STATES})"
    ).execute_if(dialect="postgresql"),
)
# Only for_each iterations have a parent, so the index holds only them (migration 0013). A full
# index made PostgreSQL without statistics (autovacuum off) AND every `parent_id IS NULL` row
# of the table into the `run_id = ...` lookups of each task's end, a cost growing with the table.
# The same partial index on both databases; on PostgreSQL created by plain DDL, since naming a
# `postgresql_` option imports its dialect (see below). Alembic does not compare WHERE clauses;
# tests/integration/test_migrate.py checks both databases' index definitions.
Index(
    "ix_task_runs_parent",
    task_runs.c.parent_id,
    sqlite_where=task_runs.c.parent_id.is_not(None),
).ddl_if(dialect="sqlite")
event.listen(
    task_runs,
    "after_create",
    DDL(
        "CREATE INDEX ix_task_runs_parent ON task_runs (parent_id) WHERE parent_id IS NOT NULL"
    ).execute_if(dialect="postgresql"),
)
# Few task runs set values; starting a task reads those of its run without scanning the rest.
# Partial on both databases (on PostgreSQL since migration 0015, plain DDL as above): the full
# index took a new entry at each state change of every task run (none is a HOT update), and
# PostgreSQL read its `run_id = ...` lookups there, among every ended task run's old entries.
Index(
    "ix_task_runs_values",
    task_runs.c.run_id,
    sqlite_where=task_runs.c.task_values.is_not(None),
).ddl_if(dialect="sqlite")
event.listen(
    task_runs,
    "after_create",
    DDL(
        "CREATE INDEX ix_task_runs_values ON task_runs (run_id) WHERE task_values IS NOT NULL"
    ).execute_if(dialect="postgresql"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("attempt_id", Id, primary_key=True, autoincrement=True),
    Column(
        "task_run_id",
        BigInteger,
        ForeignKey("task_runs.task_run_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("run_id", BigInteger, nullable=False),
    Column("attempt_number", Integer, nullable=False),
    Column("state", String(24), nullable=False),  # PENDING, RUNNING, TERMINATED
    Column("result_state", String(40)),
    Column("payload", Text, nullable=False),  # JSON: what the worker executes
    Column("worker_id", String(64)),
    Column("pid", Integer),
    Column("kill_reason", String(24)),  # set when the coordinator wants it stopped
    Column("exit_code", Integer),
    Column("error", Text),
    Column("error_trace", Text),
    Column("output", Text),  # JSON: what the task type reports (notebook result, SQL preview)
    Column("log_path", Text),
    Column("pool", String(64)),  # the worker pool the task asks for (worker_pool); NULL: any
    # Claim order (issue 16): created_time less priority x PRIORITY_AGING_MS, so waiting ages
    # a low priority up past newer high ones.
    Column("claim_key", BigInteger),
    Column("created_time", BigInteger, nullable=False),
    Column("start_time", BigInteger),
    Column("end_time", BigInteger),
)
# Attempts by state: the claim's pick, the running ones (recovery), a run's open ones.
# The claim's order in full (migration 0014): `ORDER BY claim_key, attempt_id LIMIT 1` reads one
# entry. On (state, claim_key) alone PostgreSQL sorted incrementally, fetching every PENDING row
# of the first groups (hundreds of heap rows per claim when many runs start at once; issue 18).
# On PostgreSQL both hold only the rows their queries look for (migration 0015): the claim's
# PENDING ones, the state index the live ones. No attempt update is HOT (each changes state),
# so each wrote an entry into every index: a claim and an end now write 3 and 2, not 4 and 4,
# and ended attempts leave both indexes. SQLite keeps full ones: it proves a partial index's
# `IN` list only from the very same term, and it updates only the indexes whose columns change.
Index("ix_attempts_state", attempts.c.state, attempts.c.attempt_id).ddl_if(dialect="sqlite")
Index("ix_attempts_claim", attempts.c.state, attempts.c.claim_key, attempts.c.attempt_id).ddl_if(
    dialect="sqlite"
)
for _ddl in (
    "CREATE INDEX ix_attempts_state ON attempts (state, attempt_id)"
    " WHERE state IN ('PENDING', 'RUNNING')",
    "CREATE INDEX ix_attempts_claim ON attempts (state, claim_key, attempt_id)"
    " WHERE state = 'PENDING'",
):
    event.listen(attempts, "after_create", DDL(_ddl).execute_if(dialect="postgresql"))
Index("ix_attempts_task_run", attempts.c.task_run_id)

# An ended attempt's log, kept in the store (PostgreSQL) so every server can show it, whichever
# machine's worker wrote it: gzip of its last MAX_STORED_LOG_BYTES.
attempt_logs = Table(
    "attempt_logs",
    metadata,
    Column(
        "attempt_id",
        BigInteger,
        ForeignKey("attempts.attempt_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("content", LargeBinary, nullable=False),
    Column("size", BigInteger, nullable=False),  # of the whole log, before any truncation
)

job_versions = Table(
    "job_versions",
    metadata,
    Column("job_id", BigInteger, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("settings", Text, nullable=False),
    Column("created_by", Text),
    Column("created_time", BigInteger, nullable=False),
)

job_permissions = Table(
    "job_permissions",
    metadata,
    Column("job_id", BigInteger, primary_key=True),
    Column("principal_type", String(24), primary_key=True),  # user / group / service_principal
    Column("principal", Text, primary_key=True),
    Column("level", String(24), nullable=False),  # IS_OWNER, CAN_MANAGE, CAN_MANAGE_RUN, CAN_VIEW
)

tokens = Table(
    "tokens",
    metadata,
    Column("token_id", Id, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 hex; never the token
    Column("user_name", Text, nullable=False),
    Column("admin", Boolean, nullable=False, default=False),
    Column("comment", Text),
    Column("created_time", BigInteger, nullable=False),
    Column("expiry_time", BigInteger),
    Column("revoked_time", BigInteger),
)

# Signed-in UI sessions (issue 11): the cookie holds a random id whose SHA-256 is stored here,
# never the API token; signing out deletes the row, revoking the token ends it too.
ui_sessions = Table(
    "ui_sessions",
    metadata,
    Column("session_hash", String(64), primary_key=True),
    Column(
        "token_id", BigInteger, ForeignKey("tokens.token_id", ondelete="CASCADE"), nullable=False
    ),
    Column("created_time", BigInteger, nullable=False),
    Column("expiry_time", BigInteger, nullable=False),
)
Index("ix_ui_sessions_token", ui_sessions.c.token_id)

trigger_state = Table(
    "trigger_state",
    metadata,
    Column("job_id", BigInteger, primary_key=True),
    Column("state", Text, nullable=False),  # JSON: last fire, files seen, failures in a row
    Column("updated_time", BigInteger, nullable=False),
)

# --- notifications (issue 7) ----------------------------------------------------------------

notification_destinations = Table(
    "notification_destinations",
    metadata,
    Column("destination_id", String(36), primary_key=True),  # a UUID, as on Databricks
    Column("display_name", Text, nullable=False),
    Column("destination_type", String(24), nullable=False),  # EMAIL, WEBHOOK, SLACK, ...
    Column("config", Text, nullable=False),  # JSON, secrets included: never echoed back
    Column("created_by", Text),
    Column("created_time", BigInteger, nullable=False),
)

# The outbox: one row per message to send, written in the transaction of the state change
# that causes it, then delivered (with retries) by the server's delivery loop.
notifications = Table(
    "notifications",
    metadata,
    Column("notification_id", Id, primary_key=True, autoincrement=True),
    Column("run_id", BigInteger, nullable=False),
    Column("task_run_id", BigInteger),  # set for task-level notifications
    Column("task_key", Text),
    Column("event", String(48), nullable=False),  # on_start, on_success, on_failure, ...
    Column("channel", String(16), nullable=False),  # email / webhook
    Column("target", Text, nullable=False),  # an address, or a notification destination id
    Column("facts", Text, nullable=False),  # JSON: result, message, attempt at the event
    Column("dedup_key", String(255), nullable=False, unique=True),  # one row per event+target
    Column("state", String(16), nullable=False),  # PENDING, SENDING, DELIVERED, FAILED
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("lease_until", BigInteger),  # a SENDING row whose lease expired is claimable again
    Column("claimed_by", String(64)),
    Column("last_error", Text),
    Column("created_time", BigInteger, nullable=False),
    Column("delivered_time", BigInteger),
)
Index("ix_notifications_state", notifications.c.state, notifications.c.next_attempt_at)
Index("ix_notifications_run", notifications.c.run_id)

# Duration warnings (health.rules RUN_DURATION_SECONDS) still to fire, for the coordinator's
# timers: a row exists only while its run (or task run) is running and has not warned yet.
health_timers = Table(
    "health_timers",
    metadata,
    Column("timer_id", Id, primary_key=True, autoincrement=True),
    Column("run_id", BigInteger, nullable=False),
    Column("task_run_id", BigInteger),  # None: the run's own rule
    Column("due_at", BigInteger, nullable=False),
    Column("threshold_seconds", BigInteger, nullable=False),
)
Index("ix_health_timers_due", health_timers.c.due_at)
Index("ix_health_timers_run", health_timers.c.run_id)

# Pipelines (issue 13) and their updates; queries in store/pipelines.py.
pipelines = Table(
    "pipelines",
    metadata,
    Column("pipeline_id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("spec", Text, nullable=False),  # JSON: the Pipelines API settings as stored
    Column("bundle", Text),  # "<bundle source>:<resource key>" of a bundle deployment
    Column("creator_user_name", Text),
    Column("created_time", BigInteger, nullable=False),
    Column("last_modified", BigInteger, nullable=False),
)
Index("ix_pipelines_name", pipelines.c.name)
Index("ix_pipelines_bundle", pipelines.c.bundle)

pipeline_updates = Table(
    "pipeline_updates",
    metadata,
    Column("update_id", String(64), primary_key=True),
    Column("pipeline_id", String(64), nullable=False),
    Column("state", String(16), nullable=False),  # QUEUED ... COMPLETED FAILED CANCELED
    Column("state_message", Text),
    Column("cause", String(32), nullable=False),
    Column("full_refresh", Boolean, nullable=False, default=False),
    Column("config", Text, nullable=False),  # JSON: the pipeline's settings when it started
    Column("creation_time", BigInteger, nullable=False),
    Column("host", Text),  # where the update's process runs (its pid means something there)
    Column("pid", Integer),
    # Epoch ms: the update's owner (worker, server, CLI) renews it while the update runs; an
    # active update whose lease passed is FAILED (its owner died), never active forever.
    Column("lease_until", BigInteger),
)
Index("ix_pipeline_updates_pipeline", pipeline_updates.c.pipeline_id)


# Spark clusters (issue 12); queries in store/spark_clusters.py (SQL text: no SQLAlchemy there).
spark_clusters = Table(
    "spark_clusters",
    metadata,
    Column("cluster_id", String(64), primary_key=True),
    Column("cluster_name", Text, nullable=False),
    Column("kind", String(8), nullable=False),  # NAMED (existing_cluster_id) or JOB (a run's)
    Column("run_id", BigInteger),  # a job cluster's run
    Column("cluster_key", Text),  # a job cluster's job_cluster_key (or task key: new_cluster)
    Column("spec", Text, nullable=False),  # JSON: the Clusters API new_cluster
    Column("state", String(16), nullable=False),  # PENDING RUNNING TERMINATING TERMINATED ERROR
    Column("state_message", Text, nullable=False, default=""),
    Column("host", Text),
    Column("pid", Integer),  # the keeper process (its JVM dies with it)
    Column("folder", Text),  # the server folder: state.json, driver.log
    Column("remote", Text),  # sc://host:port while running
    Column("ui_url", Text),  # the Spark UI while running
    Column("start_time", BigInteger),
    Column("terminated_time", BigInteger),
    Column("created_time", BigInteger, nullable=False),
    Column("creator_user_name", Text),
)
Index("ix_spark_clusters_run", spark_clusters.c.run_id)

# Backfills (issue 16) live in their own module; importing it adds its tables to `metadata`.
from headrace.store import backfills as _backfills  # noqa: E402, F401
