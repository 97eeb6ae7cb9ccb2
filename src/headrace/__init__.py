"""Headrace: the Databricks Jobs model, self-hosted.

Kept empty on purpose: task processes import ``headrace.runtime`` and the CLI must start fast,
so nothing heavy may be imported here.
"""

__version__ = "0.1.0"
