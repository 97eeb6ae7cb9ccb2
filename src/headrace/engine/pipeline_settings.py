"""What a pipeline's settings may say: the Pipelines API fields Headrace accepts and the checks
that name each bad field before anything is stored (engine/pipelines.py stores them)."""

from __future__ import annotations

from typing import Any

from headrace.errors import SpecError, SpecIssue

LIBRARY_KINDS = ("glob", "file", "notebook")
_REFUSED_LIBRARIES = {
    "jar": "JAR libraries are not supported in pipelines",
    "maven": "Maven libraries are not supported in pipelines",
    "whl": "wheel libraries are not supported in pipelines; use environment dependencies",
}
# Settings the Pipelines API has that do not change how a pipeline runs here (kept as given).
_ACCEPTED = frozenset(
    {
        "id",
        "pipeline_id",
        "name",
        "libraries",
        "catalog",
        "schema",
        "target",
        "configuration",
        "development",
        "continuous",
        "serverless",
        "channel",
        "edition",
        "photon",
        "clusters",
        "root_path",
        "storage",
        "notifications",
        "tags",
        "environment",
        "budget_policy_id",
        "allow_duplicate_names",
        "dry_run",
        "permissions",
        "run_as",
        "event_log",
        "filters",
        "deployment",
        "trigger",
        "ingestion_definition",
        "gateway_definition",
        "restart_window",
        "data_sampling",
        "parameters",
        "parent_path",
        "serverless_compute_id",
        "usage_policy_id",
        "testing",
    }
)
# The pipeline settings Headrace knows (a bundle's deploy sends only these, as `bundle run`).
ACCEPTED_SETTINGS = _ACCEPTED


def check_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings to store, or SpecError naming each bad field."""
    issues: list[SpecIssue] = []
    if not isinstance(settings, dict):
        raise SpecError([SpecIssue("", "pipeline settings must be a JSON object")])
    for key in settings:
        if key not in _ACCEPTED:
            issues.append(SpecIssue(key, "unknown pipeline setting"))
    name = settings.get("name")
    if name is not None and not isinstance(name, str):
        issues.append(SpecIssue("name", "must be a string"))
    for key in ("catalog", "schema", "target", "root_path"):
        if settings.get(key) is not None and not isinstance(settings[key], str):
            issues.append(SpecIssue(key, "must be a string"))
    if settings.get("schema") and settings.get("target"):
        issues.append(SpecIssue("target", "set schema or target (its older name), not both"))
    conf = settings.get("configuration")
    if conf is not None and (
        not isinstance(conf, dict) or not all(isinstance(v, str) for v in conf.values())
    ):
        issues.append(SpecIssue("configuration", "must be a mapping of strings to strings"))
    if settings.get("continuous") is True:
        issues.append(
            SpecIssue("continuous", "continuous pipelines are not supported; run updates")
        )
    libraries = settings.get("libraries") or []
    if not isinstance(libraries, list):
        issues.append(SpecIssue("libraries", "must be a list"))
        libraries = []
    for i, library in enumerate(libraries):
        issues += _library_issues(library, f"libraries[{i}]")
    if issues:
        raise SpecError(issues)
    return {k: v for k, v in settings.items() if k not in ("id", "pipeline_id", "dry_run")}


def _library_issues(library: Any, where: str) -> list[SpecIssue]:
    if not isinstance(library, dict) or len(library) != 1:
        return [SpecIssue(where, f"must name exactly one of {', '.join(LIBRARY_KINDS)}")]
    ((kind, value),) = library.items()
    if kind in _REFUSED_LIBRARIES:
        return [SpecIssue(f"{where}.{kind}", _REFUSED_LIBRARIES[kind])]
    if kind not in LIBRARY_KINDS:
        return [
            SpecIssue(f"{where}.{kind}", f"unknown library kind; use {', '.join(LIBRARY_KINDS)}")
        ]
    field = "include" if kind == "glob" else "path"
    if not isinstance(value, dict) or not isinstance(value.get(field), str) or not value[field]:
        return [SpecIssue(f"{where}.{kind}.{field}", "field required (a path)")]
    return []
