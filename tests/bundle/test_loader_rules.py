"""The Databricks CLI's loading rules, one test each: includes, warnings, permissions, run_as,
git details, lookups, non-job resources and their references, warehouses, sync, presets."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from headrace.bundle.loader import load_bundle
from headrace.errors import SpecError

ENV = {"DATABRICKS_USER": "ada@example.com"}
JOB = """
resources:
  jobs:
    hello:
      tasks:
        - task_key: a
          shell_command_task: {command: echo hi}
"""


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return folder


def test_a_glob_matching_nothing_is_fine_a_plain_path_is_not(tmp_path: Path) -> None:
    root = "bundle: {name: g}\ninclude: [resources/*.yml, resources/*/*.yml]\n"
    write(tmp_path, {"databricks.yml": root, "resources/hello.yml": JOB})
    assert list(load_bundle(tmp_path, env=ENV).jobs) == ["hello"]
    write(tmp_path, {"databricks.yml": root + "  - resources/missing.yml\n".replace("  - ", "")})
    (tmp_path / "databricks.yml").write_text(
        "bundle: {name: g}\ninclude: [resources/*.yml, resources/missing.yml]\n"
    )
    with pytest.raises(SpecError, match=r"include\[1\]: 'resources/missing.yml' does not match"):
        load_bundle(tmp_path, env=ENV)
    (tmp_path / "databricks.yml").write_text("bundle: {name: g}\ninclude: ['src/*']\n")
    write(tmp_path, {"src/a.py": "print(1)\n"})
    with pytest.raises(SpecError, match=r"src/a.py is not a YAML or JSON file"):
        load_bundle(tmp_path, env=ENV)


def test_anchor_only_keys_and_unknown_fields_are_warnings(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "databricks.yml": """
            bundle: {name: w}
            common_task: &task
              shell_command_task: {command: echo hi}
            resources:
              jobs:
                hello:
                  colour: blue
                  tasks:
                    - task_key: a
                      <<: *task
                      shell_command_task: {command: echo hi, shel: x}
            targets:
              dev:
                default: true
                flavour: mint
            """
        },
    )
    bundle = load_bundle(tmp_path, env=ENV)
    text = "\n".join(bundle.warnings)
    assert "databricks.yml:2: common_task: unknown field 'common_task'; ignored" in text
    assert "resources.jobs.hello.colour: unknown field 'colour'; ignored" in text
    assert "resources.jobs.hello.tasks[0].shell_command_task.shel: unknown field" in text
    assert "targets.dev.flavour: unknown field 'flavour'; ignored" in text
    assert bundle.jobs["hello"].settings.tasks[0].shell_command_task is not None


def test_headrace_validate_of_a_job_file_stays_strict(tmp_path: Path) -> None:
    from headrace.spec.loader import load_job_file

    path = tmp_path / "job.yml"
    path.write_text(
        "name: j\ncolour: blue\ntasks: [{task_key: a, shell_command_task: {command: x}}]\n"
    )
    with pytest.raises(SpecError, match="unknown field 'colour'"):
        load_job_file(path)


def test_permissions_at_bundle_target_and_job_level(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "databricks.yml": """
            bundle: {name: p}
            permissions:
              - {level: CAN_VIEW, group_name: users}
            resources:
              jobs:
                hello:
                  permissions:
                    - {level: CAN_MANAGE, user_name: bob@example.com}
                  tasks: [{task_key: a, shell_command_task: {command: echo}}]
            targets:
              prod:
                permissions:
                  - {level: CAN_RUN, service_principal_name: robot}
            """
        },
    )
    bundle = load_bundle(tmp_path, env=ENV)
    assert bundle.jobs["hello"].permissions == [
        {"level": "CAN_MANAGE", "user_name": "bob@example.com"},
        {"level": "CAN_VIEW", "group_name": "users"},
        {"level": "CAN_MANAGE_RUN", "service_principal_name": "robot"},
    ]
    path = tmp_path / "databricks.yml"
    path.write_text(path.read_text().replace("level: CAN_VIEW", "level: CAN_READ"))
    with pytest.raises(SpecError, match=r"permissions\[0\]\.level: must be one of"):
        load_bundle(tmp_path, env=ENV)


def test_run_as_from_bundle_target_and_job(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "databricks.yml": """
            bundle: {name: r}
            run_as: {user_name: ops@example.com}
            resources:
              jobs:
                plain:
                  tasks: [{task_key: a, shell_command_task: {command: echo}}]
                own:
                  run_as: {service_principal_name: robot}
                  tasks: [{task_key: a, shell_command_task: {command: echo}}]
            targets:
              dev: {default: true}
              prod:
                run_as: {user_name: prod@example.com}
            """
        },
    )
    dev = load_bundle(tmp_path, env=ENV)
    assert dev.jobs["plain"].settings.run_as == {"user_name": "ops@example.com"}
    assert dev.jobs["own"].settings.run_as == {"service_principal_name": "robot"}
    prod = load_bundle(tmp_path, target="prod", env=ENV)
    assert prod.jobs["plain"].settings.run_as == {"user_name": "prod@example.com"}
    path = tmp_path / "databricks.yml"
    path.write_text(path.read_text().replace("{service_principal_name: robot}", "{}"))
    with pytest.raises(SpecError, match="run_as: set exactly one of user_name"):
        load_bundle(tmp_path, env=ENV)


def git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(folder), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def test_bundle_git_details_come_from_the_checkout(tmp_path: Path) -> None:
    folder = tmp_path / "repo" / "bundle"
    write(
        folder,
        {
            "databricks.yml": """
            bundle: {name: g}
            resources:
              jobs:
                hello:
                  tags:
                    origin: ${bundle.git.origin_url}
                    branch: ${bundle.git.branch}
                    commit: ${bundle.git.commit}
                    where: ${bundle.git.bundle_root_path}
                  tasks: [{task_key: a, shell_command_task: {command: echo}}]
            targets:
              dev: {default: true}
              pinned:
                git: {branch: release}
            """
        },
    )
    repo = tmp_path / "repo"
    git(repo, "init", "-q", "-b", "feature")
    git(repo, "remote", "add", "origin", "https://example.com/team/repo.git")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "one")
    commit = git(repo, "rev-parse", "HEAD")
    tags = load_bundle(folder, env=ENV).jobs["hello"].settings.tags
    assert tags == {
        "origin": "https://example.com/team/repo.git",
        "branch": "feature",
        "commit": commit,
        "where": "bundle",
    }
    pinned = load_bundle(folder, target="pinned", env=ENV)
    assert pinned.jobs["hello"].settings.tags["branch"] == "release"
    assert pinned.git["actual_branch"] == "feature"


LOOKUP = """
bundle: {name: l}
variables:
  warehouse:
    lookup: {warehouse: Shared Serverless}
resources:
  jobs:
    q:
      tasks:
        - task_key: a
          sql_task:
            warehouse_id: ${var.warehouse}
            query: {query_text: select 1}
targets:
  dev: {default: true}
  given:
    variables:
      warehouse: default
"""


def test_lookup_variables_take_a_given_value_or_fail_naming_it(tmp_path: Path) -> None:
    write(tmp_path, {"databricks.yml": LOOKUP})
    with pytest.raises(SpecError) as exc:
        load_bundle(tmp_path, env=ENV)
    assert "variables.warehouse: looks up warehouse 'Shared Serverless'" in str(exc.value)
    assert "--var warehouse=VALUE" in str(exc.value)
    assert load_bundle(tmp_path, env=ENV, variables={"warehouse": "default"}).variables == {
        "warehouse": "default"
    }
    from_env = load_bundle(tmp_path, env={**ENV, "BUNDLE_VAR_warehouse": "default"})
    assert from_env.variables["warehouse"] == "default"
    assert load_bundle(tmp_path, target="given", env=ENV).variables["warehouse"] == "default"
    # The opt-in warehouse mapping answers warehouse lookups too.
    mapped = load_bundle(tmp_path, env={**ENV, "HEADRACE_BUNDLE_WAREHOUSE": "default"})
    assert mapped.variables["warehouse"] == "default"


def test_unknown_warehouse_ids_are_listed_and_can_be_mapped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADRACE_HOME", str(tmp_path / "home"))
    write(
        tmp_path,
        {
            "databricks.yml": LOOKUP.replace("${var.warehouse}", "abc123def")
            .replace("    lookup: {warehouse: Shared Serverless}\n", "    default: x\n")
            .replace("      warehouse: default\n", "      warehouse: y\n")
        },
    )
    bundle = load_bundle(tmp_path, env=ENV)
    assert bundle.warehouses == {"abc123def": "tasks[0].sql_task.warehouse_id"}
    assert any("warehouse_id abc123def: no such warehouse here" in w for w in bundle.warnings)
    task = bundle.jobs["q"].settings.tasks[0].sql_task
    assert task is not None and task.warehouse_id == "abc123def"
    mapped = load_bundle(tmp_path, env={**ENV, "HEADRACE_BUNDLE_WAREHOUSE": "default"})
    task = mapped.jobs["q"].settings.tasks[0].sql_task
    assert task is not None and task.warehouse_id == "default"


def test_non_job_resources_and_references_to_any_of_them(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "databricks.yml": """
            bundle: {name: res}
            resources:
              schemas:
                raw:
                  catalog_name: main
                  name: raw_${bundle.target}
                  grants: [{principal: users, privileges: [USE_SCHEMA]}]
              volumes:
                landing:
                  catalog_name: ${resources.schemas.raw.catalog_name}
                  schema_name: ${resources.schemas.raw.name}
                  name: landing
              secret_scopes:
                keys: {name: app-keys}
              dashboards:
                board: {display_name: Sales}
              vector_search_indexes:
                idx: {name: main.raw.idx}
              jobs:
                hello:
                  parameters:
                    - {name: schema, default: "${resources.schemas.raw.id}"}
                    - {name: volume, default: "${resources.volumes.landing.volume_path}"}
                    - {name: scope, default: "${resources.secret_scopes.keys.name}"}
                    - {name: index, default: "${resources.vector_search_indexes.idx.name}"}
                  tasks: [{task_key: a, shell_command_task: {command: echo}}]
            """
        },
    )
    bundle = load_bundle(tmp_path, env=ENV)
    params = {p.name: p.default for p in bundle.jobs["hello"].settings.parameters}
    assert params == {
        "schema": "main.raw_default",
        "volume": "/Volumes/main/raw_default/landing",
        "scope": "app-keys",
        "index": "main.raw.idx",
    }
    assert bundle.resources["volumes"]["landing"]["schema_name"] == "raw_default"
    text = "\n".join(bundle.warnings)
    assert "resources.dashboards (board): Headrace does not create dashboards" in text
    assert "resources.vector_search_indexes (idx)" in text
    assert "Headrace does not create schemas" not in text
    assert "secret_scopes" not in text
    path = tmp_path / "databricks.yml"
    path.write_text(path.read_text().replace("schemas.raw.id", "schemas.cooked.id"))
    with pytest.raises(SpecError, match=r"schemas has no 'cooked' \(it has: raw\)"):
        load_bundle(tmp_path, env=ENV)


def test_environments_is_the_old_name_of_targets_and_sync_presets_are_read(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        {
            "databricks.yml": textwrap.dedent(
                """
            bundle: {name: e}
            sync:
              include: [data/*.csv]
              exclude: [scratch/**]
              paths: [., ../shared]
            presets:
              name_prefix: "[x] "
              source_linked_deployment: true
            environments:
              qa:
                default: true
            """
            )
            + JOB
        },
    )
    bundle = load_bundle(tmp_path, env=ENV)
    assert bundle.target == "qa"
    assert bundle.sync == {
        "include": ["data/*.csv"],
        "exclude": ["scratch/**"],
        "paths": [".", "../shared"],
    }
    assert bundle.jobs["hello"].settings.name == "[x] hello"
    assert "presets.source_linked_deployment: ignored by Headrace" in bundle.warnings


def test_settings_headrace_ignores_are_named_in_warnings(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "databricks.yml": """
            bundle: {name: ignored}
            resources:
              schemas:
                raw: {catalog_name: main, grants: [{principal: users, privileges: [USE_SCHEMA]}]}
              jobs:
                watch:
                  budget_policy_id: abc
                  trigger:
                    table_update: {table_names: [main.raw.orders]}
                  tasks:
                    - task_key: q
                      sql_task:
                        file: {path: ./daily.sql}
                        parameters: {day: "2026-12-01"}
            targets:
              dev:
                default: true
                cluster_id: 0123-abc
            """,
            "daily.sql": "select * from orders where day = '{{day}}' and {{ region }} = 1\n",
        },
    )
    text = "\n".join(load_bundle(tmp_path, env=ENV).warnings)
    assert "resources.jobs.watch.budget_policy_id: ignored by Headrace" in text
    assert "table_update" not in text  # it fires now (engine/triggers.py)
    # {{day}} is given by the task; {{region}} by nobody.
    assert "sql_task: {{region}} in " in text and "{{day}}" not in text
    assert "resources.schemas.raw.grants: not applied by Headrace" in text
    assert "targets.dev.cluster_id: ignored by Headrace" in text
