"""Headrace's stand-in for Databricks' `dbruntime`, so the official SDK uses Headrace's dbutils.

`databricks.sdk.runtime` (and `WorkspaceClient().dbutils`) look for
`dbruntime.UserNamespaceInitializer` to learn that they run inside Databricks, and then take
`dbutils`, `display`, ... from its namespace. The worker puts this folder
(`headrace/runtime/sdk_path`) on the PYTHONPATH of notebook and Python tasks, so
`from databricks.sdk.runtime import dbutils` gives Headrace's dbutils there, with no change to
the SDK's files. Outside a Headrace task this folder is not on the path.
"""

from __future__ import annotations

from typing import Any


class UserNamespaceInitializer:
    """What `databricks.sdk.runtime` asks for: the notebook's user namespace globals."""

    _instance: UserNamespaceInitializer | None = None

    @classmethod
    def getOrCreate(cls) -> UserNamespaceInitializer:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def get_namespace_globals(self) -> dict[str, Any]:
        from headrace.runtime.namespace import notebook_globals

        return notebook_globals()
