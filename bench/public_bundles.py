"""How many public Databricks bundles `headrace bundle validate` accepts and `bundle run` completes.

The bundles are not in this repository: give the git directories of `databricks/bundle-examples`
and `databricks/cli` (whose `acceptance/bundle/templates/*/output/` folders are the templates as
`databricks bundle init` renders them). Each folder holding a `databricks.yml` is exported into a
scratch folder (`git archive`), the acceptance tests' placeholders (`[UUID]`, `[USERNAME]`, ...)
are filled in, then `headrace bundle validate` runs in it; for the accepted bundles every job of
the default target is run with `headrace bundle run KEY` (each with a time limit, in a fresh data
directory).

    python bench/public_bundles.py --examples /path/bundle-examples.git --cli /path/cli.git \
        [--no-run] [--timeout 120] [--only NAME] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HEADRACE = [sys.executable, "-m", "headrace"]
PLACEHOLDERS = {
    "[UUID]": "00000000-0000-4000-8000-000000000000",
    "[DATABRICKS_URL]": "https://example.cloud.databricks.com",
    "[USERNAME]": "someone@example.com",
    "[UNIQUE_NAME]": "unique",
}
TEMPLATE_OUTPUT = re.compile(r"^acceptance/bundle/templates/.*/output/[^/]+/databricks\.ya?ml$")


def bundle_folders(git_dir: Path, templates: bool) -> list[str]:
    """Folders (repository-relative) that hold a databricks.yml."""
    names = subprocess.run(
        ["git", f"--git-dir={git_dir}", "ls-tree", "-r", "--name-only", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    if templates:
        found = [n for n in names if TEMPLATE_OUTPUT.match(n)]
    else:
        found = [n for n in names if re.search(r"(^|/)databricks\.ya?ml$", n)]
    return sorted(str(Path(n).parent) for n in found)


def export(git_dir: Path, folder: str, dest: Path) -> Path:
    """The folder (and, for sync.paths like ../shared, its repository) under `dest`."""
    archive = subprocess.run(
        ["git", f"--git-dir={git_dir}", "archive", "HEAD", folder.split("/output/")[0]],
        capture_output=True,
        check=True,
    ).stdout
    repo = dest / folder.split("/output/")[0].replace("/", "_")
    if "/output/" not in folder:
        archive = subprocess.run(
            ["git", f"--git-dir={git_dir}", "archive", "HEAD"], capture_output=True, check=True
        ).stdout
        repo = dest / "repo"
    if not repo.exists():
        repo.mkdir(parents=True)
        subprocess.run(["tar", "-x", "-C", str(repo)], input=archive, check=True)
        for path in repo.rglob("*"):
            if path.is_file() and path.suffix in (".yml", ".yaml", ".toml", ".py", ".sql"):
                text = path.read_text(errors="replace")
                new = text
                for key, value in PLACEHOLDERS.items():
                    new = new.replace(key, value)
                if new != text:
                    path.write_text(new)
            if path.name == "out.gitignore":
                path.rename(path.with_name(".gitignore"))
    return repo / folder


def headrace(args: list[str], cwd: Path, home: Path, timeout: float) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of one headrace command."""
    env = {**os.environ, "HEADRACE_HOME": str(home), "DATABRICKS_USER": "someone@example.com"}
    env.pop("DATABRICKS_HOST", None)
    try:
        proc = subprocess.run(
            [*HEADRACE, *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return -1, "", f"timed out after {timeout} s"
    return proc.returncode, proc.stdout, proc.stderr


def _reason(text: str, errors: str) -> str:
    """Why a run failed: the failed tasks' messages from its JSON, else stderr's end."""
    try:
        run = json.loads(text)
    except ValueError:
        return errors[-600:]
    failed = [
        f"{t['task_key']}: {t['state'].get('state_message', '')}"
        for t in run.get("tasks", [])
        if t.get("state", {}).get("result_state") not in (None, "SUCCESS")
    ]
    return "; ".join(failed)[:600] or run.get("state", {}).get("state_message", "")


def measure(args: argparse.Namespace) -> dict:
    sources = []
    if args.examples:
        sources += [
            ("examples", Path(args.examples), f, False)
            for f in bundle_folders(Path(args.examples), False)
        ]
    if args.cli:
        sources += [("cli", Path(args.cli), f, True) for f in bundle_folders(Path(args.cli), True)]
    if args.only:
        sources = [s for s in sources if args.only in s[2]]
    if args.part:
        index, count = (int(x) for x in args.part.split("/"))
        sources = sources[index::count]
    results = []
    with tempfile.TemporaryDirectory(prefix="headrace-public-bundles-") as tmp:
        for origin, git_dir, folder, _ in sources:
            work = export(git_dir, folder, Path(tmp) / origin)
            home = Path(tmp) / "home" / f"{origin}-{folder.replace('/', '_')}"
            home.mkdir(parents=True, exist_ok=True)
            code, out, err = headrace(["bundle", "validate", "--json"], work, home, args.timeout)
            entry = {"origin": origin, "folder": folder, "validate": code == 0, "jobs": {}}
            if code != 0:
                entry["error"] = err[-2000:]
            else:
                doc = json.loads(out)
                keys = list(doc.get("resources", {}).get("jobs", {}))
                for key in keys if not args.no_run else ():
                    rc, text, err = headrace(
                        ["bundle", "run", key, "--json"], work, home, args.timeout
                    )
                    entry["jobs"][key] = {"exit": rc, "reason": _reason(text, err) if rc else ""}
            results.append(entry)
            ran = entry["jobs"]
            ok = sum(1 for j in ran.values() if j["exit"] == 0)
            print(
                f"{origin}:{folder}: validate {'ok' if entry['validate'] else 'REFUSED'}"
                + (f", jobs run {ok}/{len(ran)}" if ran else ""),
                flush=True,
            )
            shutil.rmtree(home, ignore_errors=True)
    return summarise(results)


def summarise(results: list[dict]) -> dict:
    accepted = [r for r in results if r["validate"]]
    jobs = [j for r in results for j in r["jobs"].values()]
    complete = [
        r for r in accepted if r["jobs"] and all(j["exit"] == 0 for j in r["jobs"].values())
    ]
    return {
        "folders": len(results),
        "validate_accepted": len(accepted),
        "bundles_with_jobs_all_runs_succeeded": len(complete),
        "bundles_with_jobs": sum(1 for r in accepted if r["jobs"]),
        "jobs_run": len(jobs),
        "jobs_succeeded": sum(1 for j in jobs if j["exit"] == 0),
        "results": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", help="git dir of databricks/bundle-examples")
    parser.add_argument("--cli", help="git dir of databricks/cli")
    parser.add_argument("--no-run", action="store_true", help="validate only")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per command")
    parser.add_argument("--only", help="only folders whose path contains this")
    parser.add_argument("--part", help="I/N: every N-th folder from the I-th (parallel runs)")
    parser.add_argument("--json", help="write every result here")
    args = parser.parse_args()
    summary = measure(args)
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k != "results"}, indent=2))


if __name__ == "__main__":
    main()
