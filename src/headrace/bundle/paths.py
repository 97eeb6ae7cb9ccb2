"""File paths in a bundle's jobs and pipelines made absolute against the folder of the YAML
file that names them (the CLI's translate_paths), except paths in a Git source, URLs and
`{{...}}` references."""

from __future__ import annotations

import os
import re
from pathlib import Path

from headrace.bundle.located import Loc, LocDict, LocList

# Task fields that name a file, per task type (sql_task.file.path is handled on its own).
_PATH_FIELDS = (
    ("notebook_task", "notebook_path"),
    ("spark_python_task", "python_file"),
    ("shell_command_task", "working_directory"),
    ("dbt_task", "project_directory"),  # the CLI's paths/job_paths_visitor.go
)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")


def resolve_paths(job: LocDict, root: Path) -> None:
    """Relative file paths made absolute against the folder of the YAML file that set them."""
    in_git = job.get("git_source") is not None
    for task in job.get("tasks") or []:
        if isinstance(task, dict):
            _resolve_task_paths(task, root, in_git)
    from headrace.spec.loader import resolve_dependency

    for env in job.get("environments") or []:
        spec = env.get("spec") if isinstance(env, dict) else None
        deps = spec.get("dependencies") if isinstance(spec, dict) else None
        if not isinstance(deps, list):
            continue
        for i, dep in enumerate(deps):
            loc = deps.locs[i] if isinstance(deps, LocList) and i < len(deps.locs) else None
            base = base_folder(loc, root)
            if isinstance(dep, str):
                deps[i] = resolve_dependency(dep, str(base))


def _resolve_task_paths(task: LocDict, root: Path, in_git: bool) -> None:
    for type_name, field_name in _PATH_FIELDS:
        settings = task.get(type_name)
        if isinstance(settings, dict):
            _resolve_field(settings, field_name, root, in_git)
    sql = task.get("sql_task")
    if isinstance(sql, dict) and isinstance(sql.get("file"), dict):
        _resolve_field(sql["file"], "path", root, in_git)
    loop = task.get("for_each_task")
    if isinstance(loop, dict) and isinstance(loop.get("task"), dict):
        _resolve_task_paths(loop["task"], root, in_git)


def resolve_pipeline_paths(pipeline: LocDict, root: Path) -> None:
    """A pipeline's source paths (`libraries[].notebook|file.path`, `glob.include`,
    `root_path`) made absolute against the YAML file that names them, as the CLI's
    translate_paths_pipelines."""
    if isinstance(pipeline.get("root_path"), str):
        _resolve_field(pipeline, "root_path", root, False)
    for library in pipeline.get("libraries") or []:
        if not isinstance(library, dict):
            continue
        for kind, name in (("notebook", "path"), ("file", "path"), ("glob", "include")):
            if isinstance(library.get(kind), LocDict):
                _resolve_field(library[kind], name, root, False)


def base_folder(loc: Loc | None, root: Path) -> Path:
    """What a relative path is relative to: the YAML file that sets it; for Python-defined
    resources (databricks-bundles), the bundle root, as the CLI loads their output there."""
    if loc is None or loc.file.suffix == ".py":
        return root
    return loc.file.parent


def _resolve_field(settings: LocDict, name: str, root: Path, in_git: bool) -> None:
    value = settings.get(name)
    source = settings.get("source")
    if source == "GIT" or (source is None and in_git):
        return
    if not isinstance(value, str) or not value or os.path.isabs(value) or _URL.match(value):
        return
    if value.startswith("{{"):
        return
    loc = settings.locs.get(name) if isinstance(settings, LocDict) else None
    base = base_folder(loc, root)
    settings[name] = os.path.normpath(os.path.join(base, value))
