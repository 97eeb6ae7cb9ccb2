"""Jobs defined in Python with Databricks' own `databricks-bundles` package.

A bundle's `python: {venv_path, resources: [...], mutators: [...]}` is run exactly as the
Databricks CLI runs it: `python -m databricks.bundles.build --phase load_resources` (then
`apply_mutators`) in the bundle's folder, with the bundle as JSON in, the bundle with the Python
resources added out, plus diagnostics and source locations. The interpreter is `venv_path`'s, or
Headrace's own when none is given (or when `venv_path` has none yet, with a warning). Paths in a
Python-defined resource are relative to the bundle root, as the CLI loads Python output there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from headrace.bundle.located import Loc, LocDict, LocList

TIMEOUT_SECONDS = 300


def python_config(config: dict[str, Any]) -> dict[str, Any] | None:
    """The `python` section (or the older `experimental.python`), if it asks for anything."""
    conf = config.get("python")
    if not isinstance(conf, dict):
        experimental = config.get("experimental")
        conf = experimental.get("python") if isinstance(experimental, dict) else None
    if not isinstance(conf, dict) or not (conf.get("resources") or conf.get("mutators")):
        return None
    return conf


def add_python_resources(
    config: LocDict,
    root: Path,
    *,
    target: str,
    variables: dict[str, Any],
    add_issue: Any,
    warnings: list[str],
) -> LocDict:
    """`config` with the jobs of the bundle's Python code added (and mutators applied)."""
    conf = python_config(config)
    if conf is None:
        return config
    python = _interpreter(conf, root)
    if python is None:
        # Templates name `.venv`, made by `uv sync` before the first deploy; Headrace's own
        # interpreter has databricks-bundles, so it stands in (with a warning) meanwhile.
        warnings.append(
            f"python.venv_path: no Python interpreter at {root / str(conf.get('venv_path'))}"
            f"/bin/python; using Headrace's own ({sys.executable})"
        )
        python = Path(sys.executable)
    phases = [
        p
        for p, key in (("load_resources", "resources"), ("apply_mutators", "mutators"))
        if conf.get(key)
    ]
    plain = _plain({k: v for k, v in config.items() if k != "targets"})
    plain["bundle"] = {**plain.get("bundle", {}), "target": target}
    plain["variables"] = {name: {"value": value} for name, value in variables.items()}
    locations: dict[str, Loc] = {}
    for phase in phases:
        result = _run_phase(python, root, phase, plain, add_issue, warnings)
        if result is None:
            return config
        plain, found = result
        locations.update(found)
    for kind, entries in (plain.get("resources") or {}).items():
        if isinstance(entries, dict):
            config = _merge_jobs(config, entries, locations, root, kind=kind)
    return config


def _interpreter(conf: dict[str, Any], root: Path) -> Path | None:
    venv = conf.get("venv_path")
    if not venv:
        return Path(sys.executable)
    python = (root / str(venv) / "bin" / "python").absolute()
    return python if python.exists() else None


def _run_phase(
    python: Path,
    root: Path,
    phase: str,
    bundle: dict[str, Any],
    add_issue: Any,
    warnings: list[str],
) -> tuple[dict[str, Any], dict[str, Loc]] | None:
    with tempfile.TemporaryDirectory(prefix="headrace-bundle-") as tmp:
        files = {
            name: Path(tmp) / f"{name}.json"
            for name in ("input", "output", "diagnostics", "locations")
        }
        files["input"].write_text(json.dumps(bundle))
        argv = [str(python), "-m", "databricks.bundles.build", "--phase", phase]
        for name in ("input", "output", "diagnostics", "locations"):
            argv += [f"--{name}", str(files[name])]
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
        try:
            proc = subprocess.run(
                argv,
                cwd=root,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_SECONDS,
            )
        except subprocess.TimeoutExpired:
            add_issue(None, "python", f"{phase} did not finish within {TIMEOUT_SECONDS} s")
            return None
        errors = _diagnostics(files["diagnostics"], root, add_issue, warnings)
        if proc.returncode != 0 or not files["output"].exists():
            if not errors:
                detail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
                if "No module named databricks.bundles" in proc.stderr:
                    detail = f"databricks-bundles is not installed for {python} (pip install databricks-bundles)"
                add_issue(None, "python", f"{phase} failed: {detail}")
            return None
        output = json.loads(files["output"].read_text())
        return output, _locations(files["locations"], root)


def _diagnostics(path: Path, root: Path, add_issue: Any, warnings: list[str]) -> int:
    if not path.exists():
        return 0
    errors = 0
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        message = item.get("summary", "")
        if item.get("detail"):
            message += f": {item['detail'].strip().splitlines()[-1]}"
        loc = _loc(item.get("location"), root)
        if item.get("severity") == "error":
            errors += 1
            add_issue(loc, item.get("path") or "", message)
        else:
            where = f"{loc.label(root)}: " if loc else ""
            warnings.append(f"{where}{message}")
    return errors


def _locations(path: Path, root: Path) -> dict[str, Loc]:
    out: dict[str, Loc] = {}
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        if line.strip():
            item = json.loads(line)
            loc = _loc(item, root)
            if loc is not None:
                out[item["path"]] = loc
    return out


def _loc(item: Any, root: Path) -> Loc | None:
    if not isinstance(item, dict) or not item.get("file"):
        return None
    file = Path(item["file"])
    return Loc(file if file.is_absolute() else (root / file).resolve(), int(item.get("line") or 1))


def _merge_jobs(
    config: LocDict,
    jobs: dict[str, Any],
    locations: dict[str, Loc],
    root: Path,
    *,
    kind: str = "jobs",
) -> LocDict:
    resources = config.get("resources")
    if not isinstance(resources, LocDict):
        resources = LocDict(loc=config.loc)
        config["resources"] = resources
    existing = resources.get(kind)
    if not isinstance(existing, LocDict):
        existing = LocDict()
        resources[kind] = existing
    for key, job in jobs.items():
        before = existing.get(key)
        if before is not None and _plain(before) == job:
            continue  # a YAML job the mutators left alone keeps its YAML locations
        loc = (
            locations.get(f"resources.{kind}.{key}")
            or getattr(before, "loc", None)
            or Loc(root / "databricks.yml", 1)
        )
        existing[key] = _located(job, loc)
        existing.locs[key] = loc
    return config


def _located(value: Any, loc: Loc) -> Any:
    """Plain JSON data as located data, every part placed at `loc`."""
    if isinstance(value, dict):
        out = LocDict(loc=loc)
        for key, item in value.items():
            out[key] = _located(item, loc)
            out.locs[key] = loc
        return out
    if isinstance(value, list):
        items = LocList((_located(v, loc) for v in value), loc=loc)
        items.locs = [loc] * len(items)
        return items
    return value


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
