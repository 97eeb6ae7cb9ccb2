"""`git_source`: tasks run from a checkout of the exact commit (a local `file://` repository),
the commit is recorded in the run, and a Git task never falls back to a local file."""

from __future__ import annotations

import subprocess
from pathlib import Path

from support import Headrace, hr

__all__ = ["hr"]

JOB = """
name: from-git
git_source:
  git_url: URL
  git_provider: gitHub
  git_branch: main
tasks:
  - task_key: script
    spark_python_task:
      python_file: jobs/hello.py
      source: GIT
  - task_key: notebook
    depends_on: [{task_key: script}]
    notebook_task:
      notebook_path: notebooks/nb
"""


def git(repo: Path, *args: str) -> str:
    command = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    return subprocess.run(
        [*command, *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def commit_files(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def make_repo(root: Path) -> tuple[Path, str]:
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    first = commit_files(
        repo,
        {
            "jobs/hello.py": "print('hello from git v1')\n",
            "notebooks/nb.py": "# Databricks notebook source\nprint('notebook from git v1')\n",
        },
        "v1",
    )
    return repo, first


def logs(hr: Headrace, run_id: int, key: str) -> str:
    return hr("runs", "logs", str(run_id), key).stdout


def test_tasks_run_from_the_exact_commit_and_the_run_records_it(hr: Headrace) -> None:
    repo, first = make_repo(hr.dir)
    hr.write("job.yml", JOB.replace("URL", repo.as_uri()))
    hr.write("jobs/hello.py", "print('LOCAL COPY: must not run')\n")
    _, run = hr.run_json(hr.dir / "job.yml", expect=0)
    assert run["git_source"]["git_snapshot"]["used_commit"] == first
    assert "hello from git v1" in logs(hr, run["run_id"], "script")
    assert "notebook from git v1" in logs(hr, run["run_id"], "notebook")

    # A new commit on the branch: the next run fetches it and records the new commit.
    second = commit_files(repo, {"jobs/hello.py": "print('hello from git v2')\n"}, "v2")
    _, run2 = hr.run_json(hr.dir / "job.yml", expect=0)
    assert run2["git_source"]["git_snapshot"]["used_commit"] == second
    assert "hello from git v2" in logs(hr, run2["run_id"], "script")
    cached = hr.home / "git"
    assert len([p for p in next(cached.iterdir()).iterdir() if p.name in (first, second)]) == 2

    # A tag and a commit pin older code.
    git(repo, "tag", "v1", first)
    hr.write(
        "job.yml", JOB.replace("URL", repo.as_uri()).replace("git_branch: main", "git_tag: v1")
    )
    _, run3 = hr.run_json(hr.dir / "job.yml", expect=0)
    assert run3["git_source"]["git_snapshot"]["used_commit"] == first
    assert "hello from git v1" in logs(hr, run3["run_id"], "script")


def test_a_git_file_missing_from_the_commit_fails_without_local_fallback(hr: Headrace) -> None:
    repo, _ = make_repo(hr.dir)
    text = JOB.replace("URL", repo.as_uri()).replace("jobs/hello.py", "jobs/absent.py")
    hr.write("job.yml", text)
    hr.write("jobs/absent.py", "print('LOCAL COPY: must not run')\n")
    _, run = hr.run_json(hr.dir / "job.yml", expect=1)
    script = next(t for t in run["tasks"] if t["task_key"] == "script")
    assert script["state"]["result_state"] == "FAILED"
    assert "LOCAL COPY" not in logs(hr, run["run_id"], "script")


def test_an_unknown_branch_or_repository_is_a_clear_error(hr: Headrace) -> None:
    repo, _ = make_repo(hr.dir)
    hr.write(
        "job.yml", JOB.replace("URL", repo.as_uri()).replace("git_branch: main", "git_branch: nope")
    )
    bad = hr("run", hr.dir / "job.yml")
    assert bad.returncode == 2, str(bad)
    assert "git_source.git_branch: 'nope' not found" in bad.stderr
    hr.write("job.yml", JOB.replace("URL", (hr.dir / "missing").as_uri()))
    gone = hr("run", hr.dir / "job.yml")
    assert gone.returncode == 2, str(gone)
    assert "git_source.git_url: cannot clone" in gone.stderr
