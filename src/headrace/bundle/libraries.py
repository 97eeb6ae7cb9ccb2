"""A task's `libraries` made to act: installed into the task's uv environment.

Databricks installs a task's libraries on its cluster. Headrace gives the task an environment
(the same uv-built, content-cached environments as `environments`, see worker/environments.py)
holding them: a task with `libraries` and no `environment_key` gets a new job environment
`libraries-<task_key>`; one that names an environment gets a copy of it with the libraries added
(`<key>+libraries-<task_key>`), so other tasks of that environment are not changed.

- `pypi: {package, repo}`: the requirement, with `repo` as an extra index (`--extra-index-url`);
- `whl`: a wheel file (relative paths from the YAML file that names it, globs allowed);
- `requirements`: a requirements file (`-r`);
- `jar`, `egg`, `maven`, `cran`: refused (Headrace runs Python; eggs are gone from pip).

Python task types run in environments here (`spark_python_task`, `python_wheel_task`), and
so does a notebook: its cells run on Headrace's interpreter with the environment's packages
first on their path (`headrace.notebook.runner`). Other task types' libraries: a warning.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from headrace.bundle.located import Loc, LocDict, LocList

ENVIRONMENT_TASK_TYPES = ("spark_python_task", "python_wheel_task", "notebook_task")
# Task types whose jars go to spark-submit (worker/submit_runner.py): their libraries stay.
JAR_TASK_TYPES = ("spark_jar_task", "spark_submit_task")
REFUSED = {
    "jar": "JAR libraries need a JVM cluster; Headrace runs Python libraries only",
    "egg": "eggs are not installable by pip any more; build a wheel (whl)",
    "maven": "Maven libraries need a JVM cluster; Headrace runs Python libraries only",
    "cran": "R libraries are not supported",
}


def apply_libraries(
    job: LocDict,
    where: str,
    root: Path,
    base_of: Callable[[Loc | None, Path], Path],
    error: Callable[[Loc | None, str, str], None],
    warn: Callable[[Loc | None, str, str], None],
) -> None:
    """Turn each task's `libraries` into an environment (in place); problems to error/warn."""
    tasks = job.get("tasks")
    if not isinstance(tasks, list):
        return
    environments = job.get("environments")
    if not isinstance(environments, list):
        environments = LocList()
    added = False
    for i, task in enumerate(tasks):
        loop = task.get("for_each_task") if isinstance(task, dict) else None
        inner = loop.get("task") if isinstance(loop, dict) else None
        if isinstance(inner, dict) and inner.get("libraries"):
            warn(
                getattr(inner, "locs", {}).get("libraries"),
                f"{where}.tasks[{i}].for_each_task.task.libraries",
                "not installed for a for_each_task's nested task; give the libraries to an "
                "environment (environment_key) instead",
            )
        if not isinstance(task, dict) or not task.get("libraries"):
            continue
        here = f"{where}.tasks[{i}].libraries"
        loc = getattr(task, "locs", {}).get("libraries")
        if any(task.get(k) is not None for k in JAR_TASK_TYPES):
            _keep_jars(task, here, loc, root, base_of, error)
            continue
        deps = _dependencies(task["libraries"], here, loc, root, base_of, error)
        kind = next((k for k in ENVIRONMENT_TASK_TYPES if task.get(k) is not None), None)
        if kind is None:
            types = [k for k in task if str(k).endswith("_task")]
            warn(
                loc,
                here,
                f"not installed for a {types[0] if types else 'task'} (only "
                f"{', '.join(ENVIRONMENT_TASK_TYPES)} run in an environment here)",
            )
            continue
        if deps is None:
            continue
        task_key = str(task.get("task_key"))
        base_key = task.get("environment_key")
        base = next(
            (
                e
                for e in environments
                if isinstance(e, dict) and e.get("environment_key") == base_key
            ),
            None,
        )
        spec = dict(base.get("spec") or {}) if isinstance(base, dict) else {"client": "1"}
        spec["dependencies"] = [*list(spec.get("dependencies") or []), *deps]
        key = f"{base_key}+libraries-{task_key}" if base_key else f"libraries-{task_key}"
        environments.append(LocDict({"environment_key": key, "spec": spec}, loc=loc))
        environments.locs.append(loc)
        task["environment_key"] = key
        del task["libraries"]
        added = True
    if added:
        job["environments"] = environments


def _dependencies(
    libraries: Any,
    here: str,
    loc: Loc | None,
    root: Path,
    base_of: Callable[[Loc | None, Path], Path],
    error: Callable[[Loc | None, str, str], None],
) -> list[str] | None:
    if not isinstance(libraries, list):
        error(loc, here, "must be a list of libraries")
        return None
    deps: list[str] = []
    ok = True
    for j, library in enumerate(libraries):
        item_loc = (
            libraries.locs[j] if isinstance(libraries, LocList) and j < len(libraries.locs) else loc
        )
        at = f"{here}[{j}]"
        if not isinstance(library, dict) or len(library) != 1:
            error(item_loc, at, "must name exactly one of pypi, whl, requirements")
            ok = False
            continue
        ((kind, value),) = library.items()
        if kind in REFUSED:
            error(item_loc, f"{at}.{kind}", REFUSED[kind])
            ok = False
        elif kind == "pypi":
            package = value.get("package") if isinstance(value, dict) else None
            if not isinstance(package, str) or not package:
                error(item_loc, f"{at}.pypi.package", "field required")
                ok = False
                continue
            if value.get("repo"):
                deps.append(f"--extra-index-url={value['repo']}")
            deps.append(package)
        elif kind in ("whl", "requirements") and isinstance(value, str) and value:
            path = _local(value, base_of(item_loc, root))
            deps.append(f"-r {path}" if kind == "requirements" else path)
        else:
            error(item_loc, f"{at}.{kind}", "unknown library kind; use pypi, whl or requirements")
            ok = False
    return deps if ok else None


def _local(value: str, base: Path) -> str:
    if os.path.isabs(value) or "://" in value or value.startswith(("/Workspace", "/Volumes")):
        return value
    return os.path.normpath(base / value)


def _keep_jars(
    task: Any,
    here: str,
    loc: Loc | None,
    root: Path,
    base_of: Callable[[Loc | None, Path], Path],
    error: Callable[[Loc | None, str, str], None],
) -> None:
    """A JAR task's `libraries`: jars kept for spark-submit, relative paths made absolute."""
    libraries = task["libraries"]
    if not isinstance(libraries, list):
        error(loc, here, "must be a list of libraries")
        return
    for j, library in enumerate(libraries):
        if isinstance(library, dict) and isinstance(library.get("jar"), str):
            library["jar"] = _local(library["jar"], base_of(loc, root))
        elif isinstance(library, dict) and library:
            kind = next(iter(library))
            error(loc, f"{here}[{j}].{kind}", "a JAR task takes jar libraries only")
