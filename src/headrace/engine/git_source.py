"""A job's `git_source`: tasks run from a checkout of the exact commit, recorded in the run.

At run start (`pin`) the repository is cloned (a mirror, once per URL) or fetched into
`<home>/git/<url hash>/mirror.git`, the ref is resolved (`git_commit`, else `git_tag`, else
`git_branch`) and that commit's tree is written to `<home>/git/<url hash>/<commit>/` (once per
commit; content never changes). The commit goes into the run's settings as
`git_source.git_snapshot.used_commit`, so a repair runs the same code. When an attempt starts
(`task_settings`), the paths of tasks whose files come from Git (`source: GIT`, or no `source`
and a job `git_source`) are made absolute inside that checkout: a missing file fails the task,
it never falls back to a local file of the same name.

Local repositories (`file://` URLs or plain paths) work as remote ones do.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from headrace.errors import SpecError, SpecIssue

GIT_TIMEOUT_SECONDS = 600
# (task type, path field) of files that come from the repository.
GIT_PATH_FIELDS = (
    ("notebook_task", "notebook_path"),
    ("spark_python_task", "python_file"),
    ("dbt_task", "project_directory"),
)


class GitError(SpecError):
    """The job's repository could not be cloned, fetched or checked out."""


def git_dir(home: Path) -> Path:
    return home / "git"


def uses_git(settings: Any) -> bool:
    """Whether any task of the job takes its files from the job's git_source."""
    if not settings.git_source:
        return False
    return any(_task_source(t) in ("GIT", None) and _has_git_path(t) for t in _all_tasks(settings))


def pin(settings: Any, home: Path) -> Any:
    """`settings` with the commit to run recorded (and checked out). Raises: GitError."""
    source = settings.git_source
    if not source or not uses_git(settings):
        return settings
    snapshot = source.get("git_snapshot") or {}
    commit = snapshot.get("used_commit")
    if commit is None:
        commit = _checkout(home, source)
    else:
        _checkout(home, {**source, "git_commit": commit})
    pinned = {**source, "git_snapshot": {**snapshot, "used_commit": commit}}
    return settings.model_copy(update={"git_source": pinned})


def task_settings(settings: Any, task: Any, resolved: dict[str, Any], home: Path) -> dict[str, Any]:
    """The attempt's resolved task-type settings with Git paths inside the run's checkout."""
    source = settings.git_source
    commit = ((source or {}).get("git_snapshot") or {}).get("used_commit")
    kind = task.task_type
    if not source or commit is None or _task_source(task) not in ("GIT", None):
        return resolved
    checkout = checkout_path(home, str(source.get("git_url", "")), commit)
    out = dict(resolved)
    for type_name, field in GIT_PATH_FIELDS:
        if kind == type_name and isinstance(out.get(field), str):
            out[field] = _inside(checkout, out[field])
    if kind == "sql_task" and isinstance(out.get("file"), dict):
        file = dict(out["file"])
        if isinstance(file.get("path"), str) and file.get("source") in ("GIT", None):
            file["path"] = _inside(checkout, file["path"])
            file["source"] = "GIT"
        out["file"] = file
    return out


def checkout_path(home: Path, url: str, commit: str) -> Path:
    return git_dir(home) / _url_key(url) / commit


def _inside(checkout: Path, path: str) -> str:
    target = Path(os.path.normpath(checkout / path.lstrip("/")))
    if target != checkout and checkout not in target.parents:
        raise SpecError([SpecIssue("git_source", f"path {path!r} leaves the repository")])
    return str(target)


def _all_tasks(settings: Any) -> Iterator[Any]:
    for task in settings.tasks:
        yield task
        if task.for_each_task is not None:
            yield task.for_each_task.task


def _task_source(task: Any) -> str | None:
    try:
        settings = task.task_type_settings
    except SpecError:
        return "WORKSPACE"
    if task.task_type == "sql_task":
        file = getattr(settings, "file", None)
        return getattr(file, "source", None) if file is not None else "WORKSPACE"
    if isinstance(settings, dict):
        return settings.get("source")
    return getattr(settings, "source", "WORKSPACE")


def _has_git_path(task: Any) -> bool:
    kind = task.task_type
    return kind == "sql_task" or any(kind == t for t, _ in GIT_PATH_FIELDS)


def _url_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def _checkout(home: Path, source: dict[str, Any]) -> str:
    url = source.get("git_url")
    if not isinstance(url, str) or not url:
        raise GitError([SpecIssue("git_source.git_url", "field required")])
    folder = git_dir(home) / _url_key(url)
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder / "lock"):
        mirror = folder / "mirror.git"
        wanted = source.get("git_commit")
        if not (mirror / "HEAD").exists():
            _git(None, "clone", "--quiet", "--mirror", url, str(mirror), what=f"clone {url}")
        elif not (wanted and _resolve(mirror, str(wanted))):
            _git(mirror, "remote", "update", "--prune", what=f"fetch {url}")
        commit = _ref_commit(mirror, source, url)
        target = folder / commit
        if not target.is_dir():
            _materialize(mirror, commit, target)
    return commit


def _ref_commit(mirror: Path, source: dict[str, Any], url: str) -> str:
    for field, ref in (
        ("git_commit", source.get("git_commit")),
        ("git_tag", f"refs/tags/{source.get('git_tag')}" if source.get("git_tag") else None),
        ("git_branch", f"refs/heads/{source['git_branch']}" if source.get("git_branch") else None),
    ):
        if ref:
            commit = _resolve(mirror, str(ref))
            if commit is None:
                raise GitError(
                    [SpecIssue(f"git_source.{field}", f"{source.get(field)!r} not found in {url}")]
                )
            return commit
    raise GitError(
        [SpecIssue("git_source", "set one of git_branch, git_tag, git_commit (what to check out)")]
    )


def _resolve(mirror: Path, ref: str) -> str | None:
    proc = subprocess.run(
        ["git", "-C", str(mirror), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None


def _materialize(mirror: Path, commit: str, target: Path) -> None:
    """The commit's files in `target`, written beside it first so a reader never sees half."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{commit[:12]}-", dir=target.parent))
    try:
        archive = subprocess.run(
            ["git", "-C", str(mirror), "archive", "--format=tar", commit],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=GIT_TIMEOUT_SECONDS,
        )
        if archive.returncode != 0:
            raise GitError(f"git_source: cannot check out {commit}: {archive.stderr.decode()}")
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive.stdout, check=True)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _git(cwd: Path | None, *args: str, what: str) -> None:
    argv = ["git", *(["-C", str(cwd)] if cwd else []), *args]
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}  # never wait for a password
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
            timeout=GIT_TIMEOUT_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitError(f"git_source: cannot {what}: {exc}") from None
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        raise GitError([SpecIssue("git_source.git_url", f"cannot {what}: {detail}")])


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "wb") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # two runs of one repository: one clone
        yield
