"""Read job specs from YAML/JSON files or parsed data into validated `JobSettings`."""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pydantic import ValidationError

from headrace.errors import SpecError, SpecIssue
from headrace.limits import MAX_NESTING_DEPTH
from headrace.spec._issues import did_you_mean, issues_from_validation_error, join_path
from headrace.spec.bounds import raw_issues, read_spec_file, yaml_node_error
from headrace.spec.dag import check_dag
from headrace.spec.models import JobSettings
from headrace.spec.validate import validate_job

# Fields of a jobs/get `Job` around its `settings`, and of a jobs/list page around `jobs`.
_JOB_KEYS = frozenset(
    {
        "job_id",
        "settings",
        "created_time",
        "creator_user_name",
        "run_as_user_name",
        "effective_budget_policy_id",
        "effective_usage_policy_id",
        "has_more",
        "next_page_token",
        "trigger_state",
    }
)
_LIST_KEYS = frozenset({"jobs", "has_more", "next_page_token", "prev_page_token"})
# Read-only fields of a jobs/get `Job` that older responses and exports carry: a job file holding
# them loads, with a warning (they describe the job on Databricks, not what to run).
_READ_ONLY_JOB_KEYS = frozenset({"run_as_owner", "effective_performance_target", "job_type"})
# Job-level fields of the Jobs API 2.0 single-task format that jobs/get still returns for old
# jobs; a job file holding them loads with a warning and without them.
_LEGACY_SETTINGS = frozenset({"max_retries", "min_retry_interval_millis", "retry_on_timeout"})
# (task type, path field, whether `source: GIT` / a job git_source makes it repo-relative)
_TASK_PATHS = (
    ("spark_python_task", "python_file", True),
    ("notebook_task", "notebook_path", True),
    ("shell_command_task", "working_directory", False),
    ("dbt_task", "project_directory", True),
)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")
_FILE_SUFFIXES = (".whl", ".tar.gz", ".zip", ".txt")


def load_job_file(path: str | Path, *, warnings: list[str] | None = None) -> list[JobSettings]:
    """Every job in a YAML or JSON file, validated; relative paths resolved against its folder.

    `warnings`, when given, receives one line per read-only or legacy field of a jobs/get
    export that was accepted and left out; without it such fields are errors.

    Raises:
        SpecError: the file is missing or unreadable, or any job in it is invalid (all issues).
    """
    path = Path(path)
    source = str(path)
    if path.suffix == ".py" and path.is_file():
        from headrace.spec.python_jobs import load_job_module

        base = Path(os.path.abspath(path.parent))
        jobs, issues = [], []
        for name, data in load_job_module(path):
            data.setdefault("name", name)
            try:
                jobs.append(_parse(data, base, name))
            except SpecError as exc:
                issues += exc.issues
        if issues:
            raise SpecError(issues, source=source)
        return jobs
    try:
        text = read_spec_file(path)  # missing, not a regular file, too large
    except SpecError as exc:
        raise SpecError(exc.issues, source=source) from None
    data = _parse_text(text, path.suffix.lower(), source)
    base_dir = Path(os.path.abspath(path.parent))
    jobs, issues = [], []
    for prefix, entry in _entries(data, source):
        if warnings is not None:
            entry = _without_exported_fields(entry, prefix, warnings)
        try:
            jobs.append(_parse(entry, base_dir, prefix))
        except SpecError as exc:
            issues += exc.issues
    if issues:
        raise SpecError(issues, source=source)
    return jobs


def parse_job_settings(
    data: Any, *, base_dir: Path | None = None, source: str | None = None
) -> JobSettings:
    """One job's settings (bare or as `{"settings": ...}`) from parsed data, validated.

    Raises:
        SpecError: with every issue found.
    """
    try:
        return _parse(data, base_dir, "")
    except SpecError as exc:
        raise SpecError(exc.issues, source=source) from None


def _parse(data: Any, base_dir: Path | None, prefix: str) -> JobSettings:
    """Unwrap, resolve paths, validate the models and then the job as a whole."""
    data = _unwrap(data, prefix)
    too_big = raw_issues(data)  # before the models: bounded work on hostile input
    if too_big:
        raise SpecError([SpecIssue(join_path(prefix, i.path), i.message) for i in too_big])
    if base_dir is not None:
        data = _resolve_paths(data, base_dir)
    try:
        settings = JobSettings.model_validate(data)
    except ValidationError as exc:
        issues = issues_from_validation_error(exc, JobSettings, prefix)
        seen = {i.path for i in issues}
        for issue in _raw_dag_issues(data):
            path = join_path(prefix, issue.path)
            if path not in seen:
                issues.append(SpecIssue(path, issue.message))
        raise SpecError(issues) from None
    issues = validate_job(settings)
    if issues:
        raise SpecError([SpecIssue(join_path(prefix, i.path), i.message) for i in issues])
    return settings


def _without_exported_fields(entry: Any, prefix: str, warnings: list[str]) -> Any:
    """A jobs/get export without its read-only and legacy fields, each named in `warnings`."""
    if not isinstance(entry, dict):
        return entry
    out = dict(entry)
    for key in sorted(_READ_ONLY_JOB_KEYS & set(out)):
        warnings.append(f"{join_path(prefix, key)}: read-only field of jobs/get; ignored")
        del out[key]
    settings = out.get("settings") if "settings" in out else out
    if isinstance(settings, dict):
        settings = dict(settings)
        inner = join_path(prefix, "settings") if "settings" in out else prefix
        for key in sorted(_LEGACY_SETTINGS & set(settings)):
            warnings.append(
                f"{join_path(inner, key)}: job-level field of the single-task format; ignored "
                "(set it on each task)"
            )
            del settings[key]
        if "settings" in out:
            out["settings"] = settings
        else:
            out = settings
    return out


def _raw_dag_issues(data: Any) -> list[SpecIssue]:
    """DAG problems found in not-yet-valid data, so one typo does not hide the rest."""
    tasks = data.get("tasks") if isinstance(data, dict) else None
    if not isinstance(tasks, list):
        return []
    views = []
    for task in tasks:
        if not isinstance(task, dict) or not isinstance(task.get("task_key"), str):
            return []
        deps = task.get("depends_on") or []
        if not isinstance(deps, list) or not all(
            isinstance(d, dict) and isinstance(d.get("task_key"), str) for d in deps
        ):
            return []
        edges = [SimpleNamespace(task_key=d["task_key"], outcome=d.get("outcome")) for d in deps]
        cond = task.get("condition_task")
        views.append(
            SimpleNamespace(task_key=task["task_key"], depends_on=edges, condition_task=cond)
        )
    return check_dag(views)  # type: ignore[arg-type]


def _unwrap(data: Any, prefix: str) -> Any:
    """The settings inside a jobs/get-style `{"job_id": ..., "settings": {...}}`."""
    if not isinstance(data, dict):
        return data
    if "settings" not in data:
        if "resources" in data or "bundle" in data:
            message = (
                "this looks like an Asset Bundle (databricks.yml), not a job's settings; "
                "put the job's settings (name, tasks, ...) at the top level"
            )
            raise SpecError([SpecIssue(prefix, message)])
        return data
    unknown = [key for key in data if key not in _JOB_KEYS]
    if unknown:
        issues = []
        for key in unknown:
            message = f"unknown field '{key}' next to 'settings'{did_you_mean(key, _JOB_KEYS)}"
            issues.append(SpecIssue(join_path(prefix, key), message))
        raise SpecError(issues)
    return data["settings"]


def _entries(data: Any, source: str) -> list[tuple[str, Any]]:
    """(path prefix, job data) for each job in a parsed file."""
    if data is None:
        raise SpecError("the file is empty", source=source)
    if isinstance(data, dict) and "jobs" in data:
        unknown = [key for key in data if key not in _LIST_KEYS]
        if unknown:
            raise SpecError(
                [SpecIssue(key, f"unknown field '{key}' next to 'jobs'") for key in unknown],
                source=source,
            )
        data = data["jobs"]
        if not isinstance(data, list):
            raise SpecError([SpecIssue("jobs", "must be a list")], source=source)
    if isinstance(data, list):
        if not data:
            raise SpecError("the file holds no jobs", source=source)
        return [(f"jobs[{i}]", entry) for i, entry in enumerate(data)]
    if isinstance(data, dict):
        return [("", data)]
    message = (
        "the file must hold a job's settings (a mapping), a list of them, or {jobs: [...]}; "
        f"got {type(data).__name__}"
    )
    raise SpecError(message, source=source)


def _parse_text(text: str, suffix: str, source: str) -> Any:
    """JSON for `.json`, else YAML (a superset of JSON), with the line of any syntax error."""
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            message = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            raise SpecError(message, source=source) from None
        except RecursionError:
            message = f"invalid JSON: nested too deeply (the limit is {MAX_NESTING_DEPTH} levels)"
            raise SpecError(message, source=source) from None
    import yaml  # 15 ms: only when a YAML file is read

    loader = _yaml_loader()(text)  # a SafeLoader subclass
    try:
        node = loader.get_single_node()
        reason = yaml_node_error(node) if node is not None else None
        if reason is not None:
            raise SpecError(f"refused YAML: {reason}", source=source)
        return loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpecError(f"invalid YAML{where}: {exc.problem}", source=source) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", source=source) from None
    finally:
        loader.dispose()


@functools.cache
def _yaml_loader() -> type:
    """A safe YAML loader that rejects duplicate keys (PyYAML silently keeps the last)."""
    import yaml

    base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class UniqueKeyLoader(base):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen = set()
            for key_node, _ in node.value:
                # Scalar keys compare by their text; constructing them twice would be slower.
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                if key is not None and key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"duplicate key '{key}'",
                        key_node.start_mark,
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def _resolve_paths(data: Any, base_dir: Path) -> Any:
    """A copy of raw settings with relative file paths made absolute against `base_dir`."""
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), list):
        return data
    in_git = data.get("git_source") is not None
    out = {**data, "tasks": [_resolve_task(t, str(base_dir), in_git) for t in data["tasks"]]}
    if isinstance(data.get("environments"), list):
        out["environments"] = [_resolve_environment(e, str(base_dir)) for e in data["environments"]]
    return out


def _resolve_environment(env: Any, base: str) -> Any:
    """A copy of one raw environment with its local dependency paths made absolute."""
    spec = env.get("spec") if isinstance(env, dict) else None
    deps = spec.get("dependencies") if isinstance(spec, dict) else None
    if not isinstance(deps, list):
        return env
    resolved = [resolve_dependency(d, base) if isinstance(d, str) else d for d in deps]
    return {**env, "spec": {**spec, "dependencies": resolved}}


def resolve_dependency(dep: str, base: str) -> str:
    """`./dist/x.whl`, `-e ../pkg`, `-r requirements.txt` made absolute; names stay as they are.

    A relative path is one that starts with `.` or names a file (has a `/` or ends with `.whl`,
    `.tar.gz`, `.zip` or `.txt`), as pip would read it.
    """
    flag, sep, rest = dep.partition(" ")
    if sep and flag in ("-e", "--editable", "-r", "--requirement", "-c", "--constraint"):
        return f"{flag} {resolve_dependency(rest.strip(), base)}"
    if not dep or os.path.isabs(dep) or _URL.match(dep) or dep.startswith(("{{", "${", "-")):
        return dep
    looks_like_path = dep.startswith(".") or "/" in dep or dep.endswith(_FILE_SUFFIXES)
    if not looks_like_path or any(c in dep for c in "=<>!~; @"):
        return dep
    return os.path.normpath(os.path.join(base, dep))


def _resolve_task(task: Any, base: str, in_git: bool) -> Any:
    """A copy of one raw task with its path fields resolved (and its for_each nested task's)."""
    if not isinstance(task, dict):
        return task
    task = dict(task)
    for type_name, field, repo_relative in _TASK_PATHS:
        if isinstance(task.get(type_name), dict):
            task[type_name] = _resolve_field(task[type_name], field, base, in_git and repo_relative)
    sql = task.get("sql_task")
    if isinstance(sql, dict) and isinstance(sql.get("file"), dict):
        task["sql_task"] = {**sql, "file": _resolve_field(sql["file"], "path", base, in_git)}
    if isinstance(task.get("libraries"), list):  # spark_jar_task's jars (issue 13)
        task["libraries"] = [
            {**lib, "jar": resolve_dependency(lib["jar"], base)}
            if isinstance(lib, dict) and isinstance(lib.get("jar"), str)
            else lib
            for lib in task["libraries"]
        ]
    loop = task.get("for_each_task")
    if isinstance(loop, dict) and "task" in loop:
        task["for_each_task"] = {**loop, "task": _resolve_task(loop["task"], base, in_git)}
    return task


def _resolve_field(settings: dict[str, Any], field: str, base: str, in_git: bool) -> Any:
    """`settings` with `settings[field]` absolute, unless it is already, a URL, or in Git."""
    value = settings.get(field)
    source = settings.get("source")
    if source == "GIT" or (source is None and in_git):
        return settings  # relative to the repository, not to the file
    if not isinstance(value, str) or not value or os.path.isabs(value):
        return settings
    if _URL.match(value) or value.startswith("{{"):
        return settings
    return {**settings, field: os.path.normpath(os.path.join(base, value))}
