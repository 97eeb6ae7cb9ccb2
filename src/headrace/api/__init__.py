"""The REST face: the Databricks Jobs API 2.2 (2.1 and 2.0 paths as aliases), over FastAPI."""
